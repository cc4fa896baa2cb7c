package snapshot

import (
	"context"
	"fmt"
	"io"

	"github.com/zeebo/blake3"
)

// ToolVersion is recorded in every manifest.
var ToolVersion = "0.1.0"

// HashBufferSize is the read size for hashing: large sequential reads
// keep the disk and BLAKE3's SIMD paths busy.
const HashBufferSize = 4 << 20

// HashFile returns the hex BLAKE3-256 of r from its start and its size.
func HashFile(ctx context.Context, r io.ReadSeeker) (string, int64, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	h := blake3.New()
	buf := make([]byte, HashBufferSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		k, err := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			n += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", n, err
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil)), n, nil
}
