"""`sitekit pack`: a country's assurance pack for its auditors, signed, verifiable offline."""
