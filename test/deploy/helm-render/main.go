// Command helm-render renders a Helm chart the way `helm template` does, without helm: Go's
// text/template with the sprig functions and helm's own additions (include, tpl, required, toYaml,
// fromYaml, toJson, fromJson, lookup), the built-in objects (.Values, .Release, .Chart,
// .Capabilities, .Template), and values checked against values.schema.json before rendering.
//
//	helm-render -chart helm/berth [-f overrides.yaml ...] [-name rel] [-namespace ns] [-api-versions a,b] [-kube-version v1.31.0]
//
// It prints every rendered manifest (templates/ and its subdirectories, such as templates/tests/)
// preceded by `# Source: <chart>/templates/<file>`, as helm does, and exits 1 with the error on
// stderr when the cluster version is outside Chart.yaml's kubeVersion, the values break the schema
// or a template fails.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	yamlv2 "gopkg.in/yaml.v2"
	yaml "gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// chartMeta holds the Chart.yaml fields templates read as .Chart.<Field>.
type chartMeta struct {
	APIVersion  string            `yaml:"apiVersion"`
	Name        string            `yaml:"name"`
	Version     string            `yaml:"version"`
	AppVersion  string            `yaml:"appVersion"`
	Description string            `yaml:"description"`
	Type        string            `yaml:"type"`
	KubeVersion string            `yaml:"kubeVersion"`
	Home        string            `yaml:"home"`
	Keywords    []string          `yaml:"keywords"`
	Sources     []string          `yaml:"sources"`
	Annotations map[string]string `yaml:"annotations"`
}

// apiVersions mirrors helm's chartutil.VersionSet: templates call .Capabilities.APIVersions.Has.
type apiVersions []string

func (v apiVersions) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// The API groups `helm template` assumes without a cluster (a subset of its defaults).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
}

func main() {
	var valueFiles multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	extraAPIs := flag.String("api-versions", "", "comma-separated extra API versions for .Capabilities.APIVersions")
	kubeVersion := flag.String("kube-version", "v1.31.0", "Kubernetes version for .Capabilities.KubeVersion, as helm's --kube-version")
	flag.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable)")
	flag.Parse()
	if *chartDir == "" {
		fail(errors.New("-chart is required"))
	}
	out, err := render(*chartDir, valueFiles, *name, *namespace, *extraAPIs, *kubeVersion)
	if err != nil {
		fail(err)
	}
	os.Stdout.WriteString(out)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "Error: %s\n", err)
	os.Exit(1)
}

func render(chartDir string, valueFiles []string, releaseName, namespace, extraAPIs, kubeVersion string) (string, error) {
	var meta chartMeta
	if err := readYAML(filepath.Join(chartDir, "Chart.yaml"), &meta); err != nil {
		return "", err
	}
	kube, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return "", fmt.Errorf("-kube-version: %w", err)
	}
	if meta.KubeVersion != "" {
		constraint, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return "", fmt.Errorf("Chart.yaml kubeVersion: %w", err)
		}
		if !constraint.Check(kube) {
			return "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", meta.KubeVersion, kubeVersion)
		}
	}
	values := map[string]interface{}{}
	if err := readYAML(filepath.Join(chartDir, "values.yaml"), &values); err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		override := map[string]interface{}{}
		if err := readYAML(f, &override); err != nil {
			return "", err
		}
		values = coalesce(values, override)
	}
	if err := validateSchema(chartDir, values); err != nil {
		return "", err
	}
	apis := append(apiVersions{}, defaultAPIVersions...)
	for _, a := range strings.Split(extraAPIs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			apis = append(apis, a)
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  meta,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v" + kube.String(), "Major": fmt.Sprint(kube.Major()), "Minor": fmt.Sprint(kube.Minor()), "GitVersion": "v" + kube.String()},
			"APIVersions": apis,
		},
		"Files": map[string]interface{}{},
	}
	return renderTemplates(chartDir, meta.Name, top)
}

func readYAML(path string, into interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// coalesce merges override into base as helm does: maps merge key by key, anything else replaces,
// and an explicit null removes the key.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func validateSchema(chartDir string, values map[string]interface{}) error {
	schemaBytes, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	// Through JSON, as helm does, so numbers and maps have the types the validator expects.
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schemaBytes), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if result.Valid() {
		return nil
	}
	var msgs []string
	for _, e := range result.Errors() {
		msgs = append(msgs, "- "+e.String())
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s", filepath.Base(chartDir), strings.Join(msgs, "\n"))
}

func renderTemplates(chartDir, chartName string, top map[string]interface{}) (string, error) {
	// Every file below templates/, subdirectories included (templates/tests/ holds the test hooks).
	var files []string
	templatesDir := filepath.Join(chartDir, "templates")
	err := filepath.WalkDir(templatesDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	root := template.New("chart")
	root.Funcs(funcMap(root))
	// helm renders missing values as empty rather than failing or printing "<no value>".
	root.Option("missingkey=zero")
	var names []string
	for _, f := range files {
		ext := filepath.Ext(f)
		if ext != ".yaml" && ext != ".yml" && ext != ".tpl" && ext != ".txt" {
			continue
		}
		text, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(templatesDir, f)
		if err != nil {
			return "", err
		}
		name := chartName + "/templates/" + filepath.ToSlash(rel)
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return "", err
		}
		// Files starting with "_" hold definitions only; NOTES.txt is not a manifest.
		base := filepath.Base(f)
		if !strings.HasPrefix(base, "_") && ext != ".txt" {
			names = append(names, name)
		}
	}
	var out strings.Builder
	for _, name := range names {
		scope := map[string]interface{}{}
		for k, v := range top {
			scope[k] = v
		}
		scope["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, scope); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(text))
	}
	return out.String(), nil
}

// funcMap is sprig's text functions without env access, plus the functions helm adds.
func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		data, err := yamlv2.Marshal(jsonRoundTrip(v))
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	// Without a cluster `helm template` answers every lookup with an empty map.
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

// jsonRoundTrip gives toYaml helm's output: helm marshals through JSON (sigs.k8s.io/yaml), so
// struct fields follow their json names, map keys come out sorted, and integers stay integers
// (JSON text is read back as YAML, never as float64).
func jsonRoundTrip(v interface{}) interface{} {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out interface{}
	if err := yamlv2.Unmarshal(data, &out); err != nil {
		return v
	}
	return out
}
