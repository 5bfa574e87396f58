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
//
// A body that is plain JSON whatever its Content-Encoding says (a script
// that puts its charset there, "utf-8"; a proxy that decompressed the body
// and left the header) is taken as it is, as it was before pagerd undid
// any coding: refused, its sender's pages would stop, for a header no
// event needed.
func DecodeContent(encoding string, body []byte) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(encoding))
	if enc == "" || enc == "identity" || plainJSON(body) {
		return body, nil
	}
	switch enc {
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

// plainJSON says whether body is uncompressed JSON: an object, after any
// white space (a gzip stream starts with the bytes 0x1f 0x8b).
func plainJSON(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
