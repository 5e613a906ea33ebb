package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are what WriteFiles writes into its directory.
var Files = []string{"latest.json", "latest.md", "throughput.svg", "latency.svg"}

// WriteFiles writes the report into dir as JSON, Markdown and the two
// charts (Files). A latest.svg left by an older msrpbench (one latency
// panel per case) is removed, so no chart of another run stays beside
// this one.
func WriteFiles(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	var md, tp, lat bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		return err
	}
	if err := WriteThroughputSVG(&tp, r); err != nil {
		return err
	}
	if err := WriteLatencySVG(&lat, r); err != nil {
		return err
	}
	for i, b := range [][]byte{append(js, '\n'), md.Bytes(), tp.Bytes(), lat.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, Files[i]), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", Files[i], err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "latest.svg")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ReadReport reads a report WriteFiles wrote (latest.json), to draw it
// again with this version's Markdown and charts.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
