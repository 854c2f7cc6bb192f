//go:build tools

// Package tools keeps sdk/v3 (which ships the executor script) in the module graph for `go mod tidy`.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
