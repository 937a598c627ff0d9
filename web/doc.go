// Package web is the organization admins' portal: handlers, templates and
// static assets, embedded in the binary and mounted under /portal.
package web
