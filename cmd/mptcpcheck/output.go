package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// outFile is get's -o FILE. The body goes to a temporary file beside
// FILE, which replaces FILE only once the whole body is there: a fetch
// that fails (refused, cut, interrupted, not 2xx) leaves FILE as it was.
//
// FILE keeps its mode; a new one gets os.Create's (0666 less the umask).
// Through a symbolic link, the file the link names is replaced and the
// link stays. The replacement is a new file: it belongs to the user who
// ran get, and other hard links to FILE keep the old contents. What is
// not a regular file (/dev/null, a named pipe, a terminal) cannot be
// replaced: it is written to directly, as os.Create would.
type outFile struct {
	name    string   // FILE, as the user gave it, for messages
	target  string   // FILE with its symbolic links resolved: what rename replaces
	f       *os.File // the temporary file, or FILE itself when direct
	direct  bool     // f is FILE: not a regular file
	existed bool     // FILE was there before get
	done    bool     // committed or aborted
}

// createOut prepares -o name. It fails, before any traffic, where the
// body could not be saved: a directory that does not exist or cannot
// be written, an existing file that cannot be written.
func createOut(name string) (*outFile, error) {
	o := &outFile{name: name, target: name}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A dangling symbolic link: os.Create would make the file it names.
		if t, lerr := os.Readlink(name); lerr == nil {
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(name), t)
			}
			o.target = t
		}
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		o.f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, err
		}
		o.direct, o.existed = true, true
		return o, nil
	default:
		o.existed = true
		if o.target, err = filepath.EvalSymlinks(name); err != nil {
			return nil, err
		}
		// The permission check os.Create made, without truncating.
		w, err := os.OpenFile(o.target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		w.Close()
	}
	// O_EXCL with a random name, not os.CreateTemp: its mode 0600 is not
	// os.Create's, and the umask is applied by the kernel here.
	var b [6]byte
	rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(o.target), "."+filepath.Base(o.target)+".mptcpcheck-"+hex.EncodeToString(b[:]))
	o.f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		// The temporary name means nothing to the user. A FILE that
		// could be written in place but not replaced (a directory its
		// user may not write) is refused too: writing in place is what
		// loses the old contents when the fetch fails.
		var pe *fs.PathError
		switch {
		case !errors.As(err, &pe):
		case o.existed:
			err = fmt.Errorf("cannot make the file that replaces %s once the body is complete in %s: %w", name, filepath.Dir(o.target), pe.Err)
		default:
			err = &fs.PathError{Op: "open", Path: name, Err: pe.Err}
		}
		return nil, err
	}
	if o.existed {
		if err := o.f.Chmod(fi.Mode().Perm()); err != nil {
			o.f.Close()
			os.Remove(tmp)
			return nil, err
		}
	}
	return o, nil
}

func (o *outFile) Write(p []byte) (int, error) { return o.f.Write(p) }

// commit puts the body in place: the temporary file, flushed to disk
// so that a crash cannot leave FILE empty, replaces FILE. After an
// error FILE is as it was; abort then removes the temporary file.
func (o *outFile) commit() error {
	var err error
	if o.direct {
		err = o.f.Close()
	} else {
		err = o.f.Sync()
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(o.f.Name(), o.target)
		}
	}
	// After an error, abort removes the temporary file and says so.
	o.done = err == nil
	return err
}

// abort drops the body, and returns what became of FILE, for a
// message; "" once committed.
func (o *outFile) abort() string {
	if o.done {
		return ""
	}
	o.done = true
	o.f.Close()
	switch {
	case o.direct:
		return fmt.Sprintf("%s has part of the body", o.name)
	case o.existed:
		os.Remove(o.f.Name())
		return fmt.Sprintf("%s is unchanged", o.name)
	}
	os.Remove(o.f.Name())
	return fmt.Sprintf("%s was not created", o.name)
}
