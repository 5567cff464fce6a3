// Command yaml-oracle records how Kubernetes' own YAML reading turns YAML into JSON, so that
// kubelab's readers can be checked against it without Go at test time.
//
// Kubernetes reads manifests with sigs.k8s.io/yaml, a fork of github.com/ghodss/yaml over its
// fork of gopkg.in/yaml.v2; this program uses ghodss/yaml and yaml.v2 2.4 as Debian packages
// them (see README.md), with the strict conversion that rejects duplicate keys.
//
//	yaml-oracle cases FILE            cases separated by `=== name` lines -> JSON on stdout
//	yaml-oracle corpus ROOT FILE...   one line per document: path#index <sha256 of canonical JSON>|error
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ghodss/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: yaml-oracle cases FILE | yaml-oracle corpus ROOT FILE...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cases":
		cases(os.Args[2])
	case "corpus":
		corpus(os.Args[2], os.Args[3:])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// toJSON converts one YAML document as the API machinery does (strict: duplicate keys fail).
func toJSON(doc []byte) (interface{}, error) {
	out, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	decoder := json.NewDecoder(bytes.NewReader(out))
	decoder.UseNumber()
	var value interface{}
	if err := decoder.Decode(&value); err != nil {
		return nil, err
	}
	return value, nil
}

func cases(path string) {
	text, err := os.ReadFile(path)
	check(err)
	result := map[string]interface{}{}
	name := ""
	var body []string
	flush := func() {
		if name == "" {
			return
		}
		value, err := toJSON([]byte(strings.Join(body, "\n") + "\n"))
		if err != nil {
			result[name] = map[string]interface{}{"error": err.Error()}
		} else {
			result[name] = map[string]interface{}{"json": value}
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		if strings.HasPrefix(line, "=== ") {
			flush()
			name = strings.TrimPrefix(line, "=== ")
			body = nil
			continue
		}
		body = append(body, line)
	}
	flush()
	out, err := json.MarshalIndent(result, "", "  ")
	check(err)
	os.Stdout.Write(append(out, '\n'))
}

// documents splits a stream at `---` lines the way kubectl's YAML reader does: a line that
// starts with `---` and has nothing after it but spaces or a comment.
func documents(text []byte) [][]byte {
	var docs [][]byte
	var current bytes.Buffer
	scanner := bufio.NewScanner(bytes.NewReader(text))
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "---") {
			rest := strings.TrimSpace(line[3:])
			if rest == "" || rest[0] == '#' {
				docs = append(docs, append([]byte(nil), current.Bytes()...))
				current.Reset()
				continue
			}
		}
		current.WriteString(line)
		current.WriteByte('\n')
	}
	check(scanner.Err())
	return append(docs, current.Bytes())
}

func corpus(root string, files []string) {
	sort.Strings(files)
	for _, file := range files {
		text, err := os.ReadFile(file)
		check(err)
		rel, err := filepath.Rel(root, file)
		check(err)
		index := 0
		for _, doc := range documents(text) {
			value, err := toJSON(doc)
			if err == nil && value == nil {
				continue // an empty document
			}
			if err != nil {
				fmt.Printf("%s#%d error\n", filepath.ToSlash(rel), index)
			} else {
				var canonical strings.Builder
				writeCanonical(&canonical, value)
				fmt.Printf("%s#%d %x\n", filepath.ToSlash(rel), index, sha256.Sum256([]byte(canonical.String())))
			}
			index++
		}
	}
}

// writeCanonical writes the form both sides hash: keys sorted bytewise, no spaces, strings
// escaped only where JSON requires, numbers that are whole written as integers and the rest as
// a 17-digit mantissa with a plain exponent (Rust's `{:.16e}`).
func writeCanonical(out *strings.Builder, value interface{}) {
	switch v := value.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case json.Number:
		out.WriteString(canonicalNumber(string(v)))
	case string:
		out.WriteByte('"')
		for _, r := range v {
			switch {
			case r == '"':
				out.WriteString(`\"`)
			case r == '\\':
				out.WriteString(`\\`)
			case r < 0x20:
				fmt.Fprintf(out, `\u%04x`, r)
			default:
				out.WriteRune(r)
			}
		}
		out.WriteByte('"')
	case []interface{}:
		out.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				out.WriteByte(',')
			}
			writeCanonical(out, item)
		}
		out.WriteByte(']')
	case map[string]interface{}:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			writeCanonical(out, k)
			out.WriteByte(':')
			writeCanonical(out, v[k])
		}
		out.WriteByte('}')
	default:
		panic(fmt.Sprintf("unexpected JSON value %T", value))
	}
}

func canonicalNumber(text string) string {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if u, err := strconv.ParseUint(text, 10, 64); err == nil {
		return strconv.FormatUint(u, 10)
	}
	f, err := strconv.ParseFloat(text, 64)
	check(err)
	if f == float64(int64(f)) && f > -9.0e18 && f < 9.0e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	mantissa, exponent, _ := strings.Cut(strconv.FormatFloat(f, 'e', 16, 64), "e")
	e, err := strconv.Atoi(exponent)
	check(err)
	return mantissa + "e" + strconv.Itoa(e)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "yaml-oracle:", err)
		os.Exit(1)
	}
}
