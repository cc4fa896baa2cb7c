package restore

import "github.com/openspartan/statsnap/internal/enum"

// Mode is how a restore treats tables the target already has. In JSON it
// is SPEC's "append" or "replace".
type Mode int

// Modes. The zero value appends, the seed's default.
const (
	ModeAppend  Mode = iota // rows are added to existing tables
	ModeReplace             // the chosen tables are dropped and rebuilt
)

var modeNames = []string{ModeAppend: "append", ModeReplace: "replace"}

func (m Mode) String() string { return enum.String("restore.Mode", modeNames, int(m)) }

// MarshalText returns SPEC's name of the mode.
func (m Mode) MarshalText() ([]byte, error) { return enum.Marshal("restore.Mode", modeNames, int(m)) }

// UnmarshalText reads SPEC's name of a mode.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := enum.Unmarshal("restore mode", modeNames, b)
	*m = Mode(v)
	return err
}

// Action is what a restore does to a table or another object.
type Action int

// Actions.
const (
	ActionCreate  Action = iota + 1 // the target lacks it
	ActionReplace                   // dropped and rebuilt (a table) or CREATE OR REPLACE (a view, a macro)
	ActionAppend                    // rows added to the existing table
	ActionKeep                      // the target's own is kept (an object, when appending)
)

var actionNames = []string{ActionCreate: "create", ActionReplace: "replace", ActionAppend: "append", ActionKeep: "keep"}

func (a Action) String() string { return enum.String("restore.Action", actionNames, int(a)) }

// MarshalText returns the action's name in restore's report.
func (a Action) MarshalText() ([]byte, error) {
	return enum.Marshal("restore.Action", actionNames, int(a))
}

// UnmarshalText reads an action's name.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := enum.Unmarshal("restore action", actionNames, b)
	*a = Action(v)
	return err
}

// SequenceAction is how a restore brings a sequence to its recorded value.
type SequenceAction int

// Sequence actions.
const (
	SequenceCreate   SequenceAction = iota + 1 // missing: created at its recorded next value
	SequenceRecreate                           // dropped and created with the tables that use it
	SequenceAdvance                            // nextval called until it reached the recorded value
	SequenceKeep                               // already at or past it
)

var sequenceActionNames = []string{SequenceCreate: "create", SequenceRecreate: "recreate", SequenceAdvance: "advance", SequenceKeep: "keep"}

func (a SequenceAction) String() string {
	return enum.String("restore.SequenceAction", sequenceActionNames, int(a))
}

// MarshalText returns the action's name in restore's report.
func (a SequenceAction) MarshalText() ([]byte, error) {
	return enum.Marshal("restore.SequenceAction", sequenceActionNames, int(a))
}

// UnmarshalText reads a sequence action's name.
func (a *SequenceAction) UnmarshalText(b []byte) error {
	v, err := enum.Unmarshal("sequence action", sequenceActionNames, b)
	*a = SequenceAction(v)
	return err
}

// Stage is the part of a restore a Progress call reports on.
type Stage int

// Stages.
const (
	StageVerify  Stage = iota + 1 // hashing the snapshot's files into the verified copy
	StageRestore                  // loading a table
)

var stageNames = []string{StageVerify: "verify", StageRestore: "restore"}

func (s Stage) String() string { return enum.String("restore.Stage", stageNames, int(s)) }
