package sshconfig

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSize bounds the size of a config file.
const MaxSize = 1 << 20

// ReadFile reads a config file: a regular file (a FIFO or a device is
// refused before it is opened, which could block) of at most [MaxSize]
// bytes. It returns the file's contents and its FileInfo, taken from the
// open file.
func ReadFile(path string) ([]byte, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, MaxSize)
	}
	return data, fi, nil
}
