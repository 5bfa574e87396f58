package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
)

// MaxOpsgenieStreamBytes bounds an Opsgenie request body read as a stream
// (ReadOpsgenieCut), as the Alertmanager intake bounds a notification it
// streams: Alertmanager's opsgenie_configs, left to their defaults, send a
// group's every alert in the description, some 550 bytes each, so a group
// of 15,000 alerts (a region down) is over MaxOpsgenieBytes, and a 413,
// which Alertmanager does not retry, paged nobody for the outage.
const MaxOpsgenieStreamBytes = 64 << 20

// opsgenieKeptUnits is what ReadOpsgenieCut keeps of a JSON string: its
// first characters and escapes, twice the longest field limit and one
// more, so that what is kept decodes to more runes than any limit (an
// escaped surrogate pair is two escapes for one rune) and the field's own
// limit cuts it, and says so, as it would the whole string.
const opsgenieKeptUnits = 2 * (maxOpsgenieNote + 1)

// ErrOpsgenieTooLarge is a body ReadOpsgenieCut could not take: over
// MaxOpsgenieStreamBytes as sent, or over MaxOpsgenieBytes with its
// strings cut (tens of thousands of fields).
var ErrOpsgenieTooLarge = errors.New("Opsgenie request body too large")

// ReadOpsgenieCut reads an Opsgenie request body too large to read whole,
// and returns it with every JSON string (key or value) cut to its first
// opsgenieKeptUnits characters, read and dropped as it streams by: what
// DecodeOpsgenieAlert, DecodeOpsgenieAction and DecodeOpsgenieUpdate then
// make of it is what they make of the whole body, since every field they
// keep is cut to a limit shorter than what is kept. The alias is the one
// string kept whole: one over its limit is kept as its first bytes and a
// digest of the whole (the dedup key), and cut here it named another
// incident than the same alert sent under MaxOpsgenieBytes, or closed by
// its alias. It does not check the JSON (the decoder does): a string left
// open runs to the end.
func ReadOpsgenieCut(r io.Reader) ([]byte, error) {
	in := bufio.NewReaderSize(io.LimitReader(r, MaxOpsgenieStreamBytes+1), 64<<10)
	out := make([]byte, 0, MaxOpsgenieBytes/4)
	var (
		read    int64
		inStr   bool
		esc     int // bytes of an escape still to come
		cont    int // continuation bytes the last UTF-8 lead byte asks for
		units   int // characters and escapes of the string so far
		dropped bool
		// The top-level object's keys, to tell its alias: depth is the
		// nesting outside strings, top whether the outermost value is an
		// object, atKey whether a string at depth 1 would be a key, inKey
		// whether the string being read is one, key its bytes as sent
		// (keyLong: too long to be "alias" however escaped), alias
		// whether the last key was "alias", and whole whether the string
		// being read is its value.
		depth                    int
		top, atKey, inKey, alias bool
		key                      []byte
		keyLong, whole           bool
	)
	for {
		b, err := in.ReadByte()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if read++; read > MaxOpsgenieStreamBytes {
			return nil, ErrOpsgenieTooLarge
		}
		if inStr && inKey && (esc > 0 || b != '"') {
			if len(key) < maxAliasKeyBytes {
				key = append(key, b)
			} else {
				keyLong = true
			}
		}
		keep := true
		switch {
		case !inStr:
			switch b {
			case '"':
				inStr, units, dropped, cont = true, 0, false, 0
				inKey, whole = depth == 1 && top && atKey, depth == 1 && top && !atKey && alias
				key, keyLong = key[:0], false
			case '{', '[':
				if depth++; depth == 1 {
					top, atKey = b == '{', b == '{'
				}
			case '}', ']':
				depth--
			case ',':
				if depth == 1 {
					atKey = top
				}
			}
		case esc > 0:
			esc--
			if esc == 0 && b == 'u' {
				esc = 4
			}
			keep = !dropped
		case b == '"':
			inStr = false
			if inKey {
				var k string
				alias = !keyLong && json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) == nil && k == "alias"
				inKey, atKey = false, false
			}
		default:
			// A character begins at a byte that continues none (UTF-8),
			// an escape at its backslash: the string is cut there, but
			// for the alias. A continuation byte no lead byte asked for
			// (invalid UTF-8) is a character of its own, as it decodes
			// (U+FFFD): else a string of them was never cut.
			if b&0xC0 != 0x80 || cont == 0 {
				if units == opsgenieKeptUnits && !whole {
					dropped = true
				}
				units++
				cont = 0
				switch {
				case b&0xE0 == 0xC0:
					cont = 1
				case b&0xF0 == 0xE0:
					cont = 2
				case b&0xF8 == 0xF0:
					cont = 3
				}
			} else {
				cont--
			}
			if b == '\\' {
				esc = 1
			}
			keep = !dropped
		}
		if keep {
			if len(out) == MaxOpsgenieBytes {
				return nil, ErrOpsgenieTooLarge
			}
			out = append(out, b)
		}
	}
}

// maxAliasKeyBytes is the longest "alias" a key can be sent as: every
// letter an escape (\u0061).
const maxAliasKeyBytes = 5 * 6
