package enum

import "testing"

func TestRoundTrip(t *testing.T) {
	names := []string{"", "create", "keep"}
	for v := 1; v < len(names); v++ {
		b, err := Marshal("action", names, v)
		if err != nil || string(b) != names[v] || String("action", names, v) != names[v] {
			t.Fatalf("%d: %q %v", v, b, err)
		}
		back, err := Unmarshal("action", names, b)
		if err != nil || back != v {
			t.Fatalf("%q: %d %v", b, back, err)
		}
	}
	if _, err := Marshal("action", names, 0); err == nil {
		t.Error("the zero value without a name marshalled")
	}
	if _, err := Unmarshal("action", names, []byte("")); err == nil {
		t.Error("an empty name unmarshalled")
	}
	if got := String("action", names, 7); got != "action(7)" {
		t.Error(got)
	}
}
