// Package clienttest runs the Go client (client/, a module of its own, so
// that importing it does not pull in the server's dependencies) against
// real servers: its tests live here, in the server's module, which may
// import both.
package clienttest
