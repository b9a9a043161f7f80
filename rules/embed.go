package rules

import "embed"

// FS holds vigil's built-in Sigma rule pack, written by the vigil project.
// Rules live under windows/<category-or-service>/<short_name>.yml.
//
//go:embed all:windows
var FS embed.FS
