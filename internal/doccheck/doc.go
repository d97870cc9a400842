// Package doccheck holds a test of the documentation: every fenced code
// block of README.md and docs/*.md names its language; Go blocks type-check
// against this module and its dependencies (a fragment is checked as the
// body of a function, with the few variables the docs assume, such as ctx,
// dsn and db, declared around it); sh blocks pass bash -n; JSON blocks
// parse. It has no code of its own.
package doccheck
