package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFiles writes latest.json, latest.md and latest.svg into dir.
func WriteFiles(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	var md, svg bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		return err
	}
	if err := WriteSVG(&svg, r); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"latest.json": append(js, '\n'), "latest.md": md.Bytes(), "latest.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
