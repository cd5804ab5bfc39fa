//go:build !linux

package procstat

func vmHWM(int) int64 { return -1 }
