package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// cpioWriter writes a cpio archive in the "newc" format, the one the
// kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst): a 110-byte ASCII header, the name, then the data,
// each padded to 4 bytes.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

const (
	cpioDir     = 0o040000
	cpioReg     = 0o100000
	cpioChar    = 0o020000
	cpioSymlink = 0o120000
)

func (c *cpioWriter) entry(name string, mode uint32, data []byte, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string) { c.entry(name, cpioDir|0o755, nil, 0, 0) }

// File adds a regular file.
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	c.entry(name, cpioReg|perm, data, 0, 0)
}

// Symlink adds a symbolic link to target.
func (c *cpioWriter) Symlink(name, target string) {
	c.entry(name, cpioSymlink|0o777, []byte(target), 0, 0)
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, major, minor uint32) {
	c.entry(name, cpioChar|0o600, nil, major, minor)
}

// Close writes the trailer.
func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, nil, 0, 0)
	return c.err
}

// initramfsFiles are what goes into the virtual machine besides the
// directories: the init, each package's test binary and testdata, the
// commands the tests run, and the host's tools with their libraries.
type initramfsFiles struct {
	Init     string        // the static vminit binary
	Tests    []packageTest // in the order the init runs them
	Commands []string      // static binaries of the module's commands, put in commandsDir
	Tools    []hostFile    // the host's programs and what they load, at their paths
}

// commandsDir holds the module's commands in the machine: the tests find
// them there through testenv.CommandsEnv, which the init sets.
const commandsDir = "kmatrix/cmd"

// packageTest is one package's static test binary, which the init runs
// as kmatrix/test/NAME.test inside kmatrix/pkg/NAME, where the package's
// data is.
type packageTest struct {
	Name   string // "mptcp" for the root package, else the directory's name
	Dir    string // the package's directory, relative to the module's root: "./diag"
	Binary string
	// Data are the directories of the package that its tests read
	// (testdata, and others such as the exporter's rules), each copied
	// into kmatrix/pkg/NAME under its own name, without Go files.
	Data []string
}

// writeInitramfs writes a gzip-compressed newc cpio archive to dst.
func writeInitramfs(dst string, in initramfsFiles) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	c := &cpioWriter{w: zw}
	made := map[string]bool{}
	mkdirAll := func(dir string) {
		var parts []string
		for d := dir; d != "." && d != "/" && !made[d]; d = path.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			c.Dir(parts[i])
			made[parts[i]] = true
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "etc", "root", "bin", "kmatrix/test", "kmatrix/pkg", commandsDir} {
		mkdirAll(d)
	}
	// iproute2 keeps the named network namespaces in /var/run/netns:
	// /run/netns, as on Debian.
	mkdirAll("var")
	c.Symlink("var/run", "../run")
	// The kernel opens /dev/console for process 1 before it runs; the
	// init mounts devtmpfs over /dev afterwards.
	c.CharDev("dev/console", 5, 1)
	c.File("etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n"))
	c.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	c.File("etc/group", 0o644, []byte("root:x:0:\n"))
	files := []struct{ src, dst string }{{in.Init, "init"}}
	for i, pt := range in.Tests {
		// The init runs the binaries in name order: the prefix keeps ours.
		files = append(files, struct{ src, dst string }{pt.Binary, fmt.Sprintf("kmatrix/test/%02d-%s.test", i, pt.Name)})
		c.Dir("kmatrix/pkg/" + pt.Name)
	}
	for _, file := range files {
		b, err := os.ReadFile(file.src)
		if err != nil {
			f.Close()
			return err
		}
		c.File(file.dst, 0o755, b)
	}
	for _, cmd := range in.Commands {
		b, err := os.ReadFile(cmd)
		if err != nil {
			f.Close()
			return err
		}
		c.File(path.Join(commandsDir, filepath.Base(cmd)), 0o755, b)
	}
	for _, t := range in.Tools {
		mkdirAll(path.Dir(t.Dst))
		if t.Link != "" {
			c.Symlink(t.Dst, t.Link)
			continue
		}
		b, err := os.ReadFile(t.Src)
		if err != nil {
			f.Close()
			return err
		}
		c.File(t.Dst, t.Mode, b)
	}
	for _, pt := range in.Tests {
		for _, data := range pt.Data {
			if err := addDataDir(c, data, path.Join("kmatrix/pkg", pt.Name, filepath.Base(data))); err != nil {
				f.Close()
				return err
			}
		}
	}
	err = c.Close()
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// addDataDir copies the directory dir into the archive as name, without
// its Go files and nested modules: what tests read, not what builds.
func addDataDir(c *cpioWriter, dir, name string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(name, filepath.ToSlash(rel))
		switch {
		case d.IsDir() && p != dir && fileExists(filepath.Join(p, "go.mod")):
			return filepath.SkipDir
		case d.IsDir():
			c.Dir(name)
		case strings.HasSuffix(p, ".go"):
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c.File(name, 0o644, b)
		}
		return nil
	})
}

// modulesDir is where the machine finds the kernel modules it loads.
const modulesDir = "kmatrix/modules"

// writeKernelInitramfs writes to dst the initramfs base with a second
// archive appended: the kernel's modules (modules, a directory of .ko
// files with their moduleOrderFile) under modulesDir. The kernel unpacks
// concatenated archives one after the other.
func writeKernelInitramfs(dst, base, modules string) error {
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	c := &cpioWriter{w: zw, err: err}
	c.Dir(modulesDir)
	order, err := os.ReadFile(filepath.Join(modules, moduleOrderFile))
	if err != nil {
		f.Close()
		return err
	}
	c.File(path.Join(modulesDir, moduleOrderFile), 0o644, order)
	for _, m := range strings.Fields(string(order)) {
		b, err := os.ReadFile(filepath.Join(modules, m+".ko"))
		if err != nil {
			f.Close()
			return err
		}
		c.File(path.Join(modulesDir, m+".ko"), 0o644, b)
	}
	err = c.Close()
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
