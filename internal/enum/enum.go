// Package enum gives small integer enums their names in text and JSON:
// each enum type keeps a table of names and calls these from its String,
// MarshalText and UnmarshalText methods, so that the JSON a user sees
// stays the documented strings while the code works with typed values.
package enum

import "fmt"

// String returns names[v], or "typ(v)" for a value without a name.
func String(typ string, names []string, v int) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// Marshal returns names[v], refusing a value without a name.
func Marshal(typ string, names []string, v int) ([]byte, error) {
	if v >= 0 && v < len(names) && names[v] != "" {
		return []byte(names[v]), nil
	}
	return nil, fmt.Errorf("%s(%d) has no name", typ, v)
}

// Unmarshal returns the value whose name is text.
func Unmarshal(typ string, names []string, text []byte) (int, error) {
	for i, n := range names {
		if n != "" && n == string(text) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q", typ, text)
}
