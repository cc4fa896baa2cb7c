// Package retention decides which snapshots a policy keeps, with the rules
// of restic 0.14's forget: --keep-last, -hourly, -daily, -weekly, -monthly,
// -yearly and -within.
//
// It is a pure function of snapshot times (Apply): no files, no clock
// beyond the "now" it is given, no I/O. That is what lets its table tests
// pin every calendar case, and what lets prune show a dry run that is
// exactly the removal it would make. Each snapshot's periods are computed
// in the UTC offset recorded in its own manifest, carried by its
// time.Time's Location.
package retention
