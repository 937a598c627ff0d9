package statuslist

import "errors"

// Errors of this package. Every error a function returns wraps exactly one of
// them (sometimes together with an error of a lower layer), so callers can
// map a failure to a problem type with errors.Is. The first four carry the
// names of the Bitstring Status List processing errors they stand for.
var (
	// ErrMalformed is a value that breaks a MUST of its specification: an
	// encodedList or lst that is not base64url, not GZIP or ZLIB, or
	// truncated; a statusListIndex that is not a base-10 integer; a
	// statusMessage of the wrong length; a status list token with missing
	// claims. Bitstring Status List calls it MALFORMED_VALUE_ERROR.
	ErrMalformed = errors.New("malformed status list value")
	// ErrListLength is a list shorter than the minimum: fewer than 131,072
	// entries (STATUS_LIST_LENGTH_ERROR).
	ErrListLength = errors.New("status list too short")
	// ErrRange is an index outside the list, or a status value that does
	// not fit in the list's entry size (RANGE_ERROR).
	ErrRange = errors.New("status list index or value out of range")
	// ErrVerification is a status list that does not answer for the entry
	// that references it: a purpose the list does not have, a token whose
	// signature, type, subject or validity period is wrong
	// (STATUS_VERIFICATION_ERROR).
	ErrVerification = errors.New("status list verification failed")
	// ErrTooLarge is input, or decompressed output, over the size limit.
	// Decoders stop reading at the limit, so a compression bomb costs at
	// most the limit in memory and time.
	ErrTooLarge = errors.New("status list too large")
	// ErrExpired is a status list token past its exp (or before its nbf).
	ErrExpired = errors.New("status list token expired or not yet valid")
	// ErrNoFreeIndex is RandomIndex giving up: every index it drew was taken.
	ErrNoFreeIndex = errors.New("no free status list index")
)
