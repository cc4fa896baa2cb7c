package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
)

func TestHashCopy(t *testing.T) {
	data := make([]byte, 5*HashBufferSize+12345)
	rand.New(rand.NewSource(7)).Read(data)
	for _, n := range []int{0, 1, HashBufferSize - 1, HashBufferSize, HashBufferSize + 1,
		(readAhead+1)*HashBufferSize + 7, len(data)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			want := fmt.Sprintf("%x", blake3.Sum256(data[:n]))
			var out bytes.Buffer
			// Short reads must not change the result.
			for _, r := range []io.Reader{bytes.NewReader(data[:n]), iotest.HalfReader(bytes.NewReader(data[:n]))} {
				out.Reset()
				sum, got, err := HashCopy(context.Background(), r, &out)
				if err != nil {
					t.Fatal(err)
				}
				if sum != want || got != int64(n) {
					t.Fatalf("HashCopy = %s, %d; want %s, %d", sum, got, want, n)
				}
				if !bytes.Equal(out.Bytes(), data[:n]) {
					t.Fatalf("the copy differs from the input")
				}
			}
			sum, _, err := HashFile(context.Background(), bytes.NewReader(data[:n]))
			if err != nil || sum != want {
				t.Fatalf("HashFile = %s, %v; want %s", sum, err, want)
			}
		})
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("no space left on device")
	}
	return len(p), nil
}

func TestHashCopyFailures(t *testing.T) {
	data := make([]byte, 4*HashBufferSize)
	ctx := context.Background()

	_, _, err := HashCopy(ctx, bytes.NewReader(data), &failWriter{after: HashBufferSize})
	var we *WriteError
	if !errors.As(err, &we) || err.Error() != "no space left on device" {
		t.Fatalf("write failure: got %v, want a WriteError with the writer's message", err)
	}

	broken := errors.New("input/output error")
	_, n, err := HashCopy(ctx, io.MultiReader(bytes.NewReader(data[:HashBufferSize+5]), iotest.ErrReader(broken)), nil)
	if !errors.Is(err, broken) || errors.As(err, &we) {
		t.Fatalf("read failure: got %v, want the reader's error", err)
	}
	if n > HashBufferSize+5 {
		t.Fatalf("read failure: %d bytes counted, only %d were readable", n, HashBufferSize+5)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := HashCopy(cctx, bytes.NewReader(data), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
}
