// Package client forwards to package endpoint, the MSRP endpoint library,
// for the tests not yet moved to it; it goes once they are.
package client
