package importer

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Document is one JSON document of an export: a file, or a file in a zip
// archive, with the name the report and errors use for it.
type Document struct {
	Name string
	Data []byte
}

// maxDocument bounds one document, so a stray archive cannot exhaust memory.
const maxDocument = 64 << 20

// ReadInputs reads the inputs an import is given: JSON files, directories
// (every *.json file under them, in name order, like an
// opsgenie-configuration-backup OpsGenieBackups folder) and zip archives of
// either.
func ReadInputs(paths []string) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		switch {
		case st.IsDir():
			var files []string
			err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
					files = append(files, path)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("read input %s: %w", p, err)
			}
			sort.Strings(files)
			for _, f := range files {
				d, err := readFile(f)
				if err != nil {
					return nil, err
				}
				docs = append(docs, d)
			}
		case strings.EqualFold(filepath.Ext(p), ".zip"):
			zd, err := readZip(p)
			if err != nil {
				return nil, err
			}
			docs = append(docs, zd...)
		default:
			d, err := readFile(p)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d)
		}
	}
	return docs, nil
}

func readFile(path string) (Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return Document{}, fmt.Errorf("read input: %w", err)
	}
	defer f.Close()
	data, err := readLimited(f, path)
	return Document{Name: path, Data: data}, err
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("read input %s: %w", name, err)
	}
	if len(data) > maxDocument {
		return nil, fmt.Errorf("read input %s: larger than %d MiB", name, maxDocument>>20)
	}
	return data, nil
}

func readZip(path string) ([]Document, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("read input %s: %w", path, err)
	}
	defer zr.Close()
	files := append([]*zip.File(nil), zr.File...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	var docs []Document
	for _, f := range files {
		if f.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(f.Name), ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read input %s: %s: %w", path, f.Name, err)
		}
		data, err := readLimited(rc, path+": "+f.Name)
		rc.Close()
		if err != nil {
			return nil, err
		}
		docs = append(docs, Document{Name: path + ": " + f.Name, Data: data})
	}
	return docs, nil
}

// decode parses a document as JSON into v, naming the document on error.
func (d Document) decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(d.Data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: not JSON: %w", d.Name, err)
	}
	return nil
}

// objects returns the JSON objects of a document, unwrapping the envelopes
// vendors put them in: {"data": ...} (Opsgenie), {"results": [...]}
// (Grafana OnCall), a bare list, or a bare object. Each object is kept raw.
func (d Document) objects(envelopes ...string) ([]map[string]json.RawMessage, error) {
	var top json.RawMessage
	if err := d.decode(&top); err != nil {
		return nil, err
	}
	return unwrap(top, envelopes, d.Name)
}

func unwrap(raw json.RawMessage, envelopes []string, name string) ([]map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var out []map[string]json.RawMessage
		for _, it := range items {
			objs, err := unwrap(it, nil, name)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: expected a JSON object or list: %w", name, err)
	}
	for _, e := range envelopes {
		if inner, ok := obj[e]; ok {
			return unwrap(inner, nil, name)
		}
	}
	return []map[string]json.RawMessage{obj}, nil
}

// has reports whether an object has every key.
func has(obj map[string]json.RawMessage, keys ...string) bool {
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return false
		}
	}
	return true
}

// into decodes a raw object into a typed struct.
func into(obj map[string]json.RawMessage, v any, name string) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// reportLaterPages adds a report line when a document is one page of a
// longer list: PagerDuty's "more": true, Grafana OnCall's "next" URL,
// Opsgenie's "paging.next". The pages after it are not in the export, so
// whatever they hold would otherwise be missing without a word.
func reportLaterPages(d Document, rep *Report) {
	var top map[string]json.RawMessage
	if json.Unmarshal(d.Data, &top) != nil {
		return // a bare list has no paging
	}
	// Each field alone, so that one of an odd type does not hide another.
	var more bool
	var offset, limit int
	var next string
	var paging struct {
		Next string `json:"next"`
	}
	_ = json.Unmarshal(top["more"], &more)
	_ = json.Unmarshal(top["offset"], &offset)
	_ = json.Unmarshal(top["limit"], &limit)
	_ = json.Unmarshal(top["next"], &next)
	_ = json.Unmarshal(top["paging"], &paging)
	var how string
	switch {
	case more:
		how = fmt.Sprintf(`PagerDuty says "more": true; request the list again with offset=%d (and the same limit, %d), and so on until "more" is false`, offset+limit, limit)
	case next != "":
		how = fmt.Sprintf(`Grafana OnCall gives "next": %q; fetch it, and each page's "next" until it is null`, next)
	case paging.Next != "":
		how = fmt.Sprintf(`Opsgenie gives "paging.next": %q; fetch it, and each page's paging.next until there is none`, paging.Next)
	default:
		return
	}
	rep.add(NotMapped, ref{Kind: "file", Name: d.Name}, "is one page of a longer list: the later pages are not in the export, so what they hold is not imported (%s, then import every page together)", how)
}
