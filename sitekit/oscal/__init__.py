"""OSCAL documents for auditors: sitekit's control catalogue as a component definition, and a country's
latest evidence as assessment results (built and checked with compliance-trestle's OSCAL models)."""
