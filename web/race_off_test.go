//go:build !race

package web

// raceEnabled is true when the tests run with -race.
const raceEnabled = false
