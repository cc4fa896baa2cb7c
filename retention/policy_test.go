package retention

import (
	"strings"
	"testing"
)

func TestPolicyEmpty(t *testing.T) {
	tests := []struct {
		p    Policy
		want bool
	}{
		{Policy{}, true},
		{Policy{Last: 1}, false},
		{Policy{Yearly: 1}, false},
		{Policy{Within: Duration{Hours: 1}}, false},
	}
	for _, tt := range tests {
		if got := tt.p.Empty(); got != tt.want {
			t.Errorf("%+v.Empty() = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want []string // substrings of the error; nil means valid
	}{
		{"unset", Policy{}, nil},
		{"all set", Policy{1, 2, 3, 4, 5, 6, Duration{Days: 30}}, nil},
		{"negative daily", Policy{Daily: -1}, []string{"--keep-daily must be a whole number of at least 1, got -1"}},
		{"two negatives", Policy{Last: -2, Yearly: -3}, []string{"--keep-last", "got -2", "--keep-yearly", "got -3"}},
		{"negative within", Policy{Within: Duration{Days: -1}}, []string{"--keep-within", "negative"}},
		{"oversized within", Policy{Within: Duration{Hours: MaxDurationNumber + 1}}, []string{"--keep-within", "too large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateCount(t *testing.T) {
	tests := []struct {
		n  int
		ok bool
	}{
		{1, true},
		{365, true},
		{0, false},
		{-1, false},
	}
	for _, tt := range tests {
		err := ValidateCount("--keep-weekly", tt.n)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateCount(%d) = %v, want ok=%v", tt.n, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--keep-weekly") {
			t.Errorf("error %q does not name the flag", err)
		}
	}
}
