//go:build tools

// Package tools pins the provider's main package and the schema generator's import so `go mod tidy`
// keeps their dependencies.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
