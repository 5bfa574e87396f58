package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrEventTooLarge is DecodeContent's error for a compressed event whose
// JSON is over MaxEventBytes.
var ErrEventTooLarge = errors.New("the decompressed event is larger than 512 KB")

// ErrUnsupportedEncoding is DecodeContent's error for a Content-Encoding
// other than gzip: the request, sent again as it is, fails again.
var ErrUnsupportedEncoding = errors.New("unsupported Content-Encoding")

// DecodeContent undoes a request body's Content-Encoding: none (or
// "identity") gives body as it is; "gzip" (or "x-gzip") its JSON, at most
// MaxEventBytes of it (ErrEventTooLarge past that, however small the
// compressed body: a gzip bomb is read no further). Any other coding
// (deflate, br, zstd, several in a row) is ErrUnsupportedEncoding.
// Corrupt gzip is an error naming what is wrong. Senders that compress
// their requests (an HTTP client or a proxy set to, a shipper's sink with
// compression on) otherwise had every event refused as "Malformed JSON:
// invalid character '\x1f'", and nothing of theirs paged.
func DecodeContent(encoding string, body []byte) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, fmt.Errorf("%w %q: send the event uncompressed or gzip-compressed", ErrUnsupportedEncoding, encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the gzip-compressed body cannot be decompressed: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxEventBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("the gzip-compressed body cannot be decompressed: %v", err)
	case len(out) > MaxEventBytes:
		return nil, ErrEventTooLarge
	}
	return out, nil
}
