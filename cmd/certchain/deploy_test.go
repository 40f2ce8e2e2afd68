package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/certchain/certchain/internal/pki"
	"go.yaml.in/yaml/v3"
)

// deployDir holds what operators use to run validators (deploy/README.md).
// Nothing there can run in a test (no Docker engine, no Kubernetes), so the
// tests below check what can be checked: every file parses, the manifests
// are shaped as Kubernetes needs, every flag and CERTCHAIN_* variable they
// pass is one the node knows, and every metric the dashboard and the alert
// rules name is one a running node exports.
const deployDir = "../../deploy"

// TestDeployFilesValid parses every YAML (all documents) and JSON file under
// deploy/ and checks the structure of the compose file, the Kubernetes
// manifests, the systemd unit, the example configuration and the
// Prometheus configuration.
func TestDeployFilesValid(t *testing.T) {
	var yamls, jsons int
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yml", ".yaml":
			yamls++
			docs := yamlDocs(t, path)
			if rel, _ := filepath.Rel(deployDir, path); strings.HasPrefix(rel, "k8s"+string(filepath.Separator)) {
				for i, doc := range docs {
					checkK8sObject(t, path, i, doc)
				}
			}
		case ".json":
			jsons++
			var v any
			if err := json.Unmarshal(readFile(t, path), &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if yamls == 0 || jsons == 0 {
		t.Fatalf("found %d YAML and %d JSON files under %s", yamls, jsons, deployDir)
	}
	t.Run("compose", checkCompose)
	t.Run("k8s", checkK8s)
	t.Run("systemd", checkSystemd)
	t.Run("prometheus", checkPrometheus)
	t.Run("dockerfile", checkDockerfile)
}

// yamlDocs decodes every document of a YAML file; empty documents are
// dropped.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []map[string]any
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Errorf("%s: document %d: %v", path, i, err)
			return docs
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get walks nested maps and lists: get(doc, "spec", "template", "spec").
// An int key indexes a list.
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func checkK8sObject(t *testing.T, path string, i int, doc map[string]any) {
	t.Helper()
	for _, k := range [][]any{{"apiVersion"}, {"kind"}, {"metadata", "name"}} {
		if str(get(doc, k...)) == "" {
			t.Errorf("%s: document %d lacks %v", path, i, k)
		}
	}
	if get(doc, "spec") == nil && get(doc, "data") == nil {
		t.Errorf("%s: document %d (%s) has neither spec nor data", path, i, str(doc["kind"]))
	}
	if ns := get(doc, "metadata", "namespace"); ns != nil {
		t.Errorf("%s: document %d names namespace %v: the manifests are namespace-agnostic", path, i, ns)
	}
}

// k8sObjects returns the Kubernetes objects under deploy/k8s by kind.
func k8sObjects(t *testing.T) map[string][]map[string]any {
	files, err := filepath.Glob(filepath.Join(deployDir, "k8s", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	byKind := map[string][]map[string]any{}
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			byKind[str(doc["kind"])] = append(byKind[str(doc["kind"])], doc)
		}
	}
	return byKind
}

func checkK8s(t *testing.T) {
	objs := k8sObjects(t)
	if len(objs["StatefulSet"]) != 1 {
		t.Fatalf("want one StatefulSet, have %d", len(objs["StatefulSet"]))
	}
	sts := objs["StatefulSet"][0]
	services := map[string]map[string]any{}
	for _, s := range objs["Service"] {
		services[str(get(s, "metadata", "name"))] = s
	}
	governing := services[str(get(sts, "spec", "serviceName"))]
	if governing == nil || str(get(governing, "spec", "clusterIP")) != "None" {
		t.Errorf("the StatefulSet's serviceName %q must be a headless Service (clusterIP: None)", get(sts, "spec", "serviceName"))
	} else if get(governing, "spec", "publishNotReadyAddresses") != true {
		t.Error("the headless Service must publish not-ready pods: peers resolve each other before a leader exists")
	}
	if n, _ := get(sts, "spec", "replicas").(int); n < 3 {
		t.Errorf("StatefulSet replicas %v, want at least 3", get(sts, "spec", "replicas"))
	}
	if str(get(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name")) == "" {
		t.Error("StatefulSet has no volumeClaimTemplates")
	}
	c := get(sts, "spec", "template", "spec", "containers", 0)
	if p := str(get(c, "readinessProbe", "httpGet", "path")); p != "/readyz" {
		t.Errorf("readinessProbe path %q, want /readyz", p)
	}
	if p := str(get(c, "livenessProbe", "httpGet", "path")); p != "/healthz" {
		t.Errorf("livenessProbe path %q, want /healthz", p)
	}
	ports := map[string]bool{}
	for i := 0; get(c, "ports", i) != nil; i++ {
		ports[str(get(c, "ports", i, "name"))] = true
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		if p := get(c, probe, "httpGet", "port"); p != nil && !ports[str(p)] {
			t.Errorf("%s port %v is not a named container port", probe, p)
		}
	}
	mounts := map[string]bool{}
	for i := 0; get(c, "volumeMounts", i) != nil; i++ {
		mounts[str(get(c, "volumeMounts", i, "name"))] = true
	}
	if !mounts[str(get(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name"))] {
		t.Error("the volume claim template is not mounted")
	}
	var args []string
	for _, k := range []string{"command", "args"} {
		for i := 0; get(c, k, i) != nil; i++ {
			args = append(args, str(get(c, k, i)))
		}
	}
	script := strings.Join(args, "\n")
	for _, want := range []string{"--bootstrap", "--join", "--raft-advertise", "--api-advertise"} {
		if !strings.Contains(script, want) {
			t.Errorf("the node's start command lacks %s", want)
		}
	}
	checkFlags(t, "k8s StatefulSet", longFlags(script))
	var envs []string
	for i := 0; get(c, "env", i) != nil; i++ {
		envs = append(envs, str(get(c, "env", i, "name")))
	}
	checkEnv(t, "k8s StatefulSet", envs)
}

// certchainServices returns the compose services that run the node.
func certchainServices(t *testing.T) map[string]any {
	docs := yamlDocs(t, filepath.Join(deployDir, "docker-compose.yml"))
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents", len(docs))
	}
	nodes := map[string]any{}
	for name, s := range docs[0]["services"].(map[string]any) {
		if strings.HasPrefix(str(get(s, "image")), "certchain") {
			nodes[name] = s
		}
	}
	return nodes
}

func checkCompose(t *testing.T) {
	nodes := certchainServices(t)
	if len(nodes) < 3 {
		t.Fatalf("docker-compose.yml runs %d certchain services, want at least 3", len(nodes))
	}
	var bootstrap, join int
	ports := map[string]string{}
	for name, s := range nodes {
		var cmd []string
		for i := 0; get(s, "command", i) != nil; i++ {
			cmd = append(cmd, str(get(s, "command", i)))
		}
		if len(cmd) == 0 || cmd[0] != "node" {
			t.Errorf("%s: command %q does not start with node", name, cmd)
		}
		checkFlags(t, "compose "+name, longFlags(strings.Join(cmd, " ")))
		line := strings.Join(cmd, " ")
		if strings.Contains(line, "--bootstrap") {
			bootstrap++
		}
		if strings.Contains(line, "--join") {
			join++
			if !strings.Contains(line, "--admin-cert") || !strings.Contains(line, "--admin-key") {
				t.Errorf("%s joins without admin credentials", name)
			}
		}
		env, _ := get(s, "environment").(map[string]any)
		checkEnv(t, "compose "+name, slices.Collect(maps.Keys(env)))
		if hc := fmtenc(get(s, "healthcheck", "test")); !strings.Contains(hc, "/readyz") {
			t.Errorf("%s: healthcheck %s does not ask /readyz", name, hc)
		}
		if v := str(get(s, "volumes", 0)); !strings.HasSuffix(v, ":/data") {
			t.Errorf("%s: first volume %q is not the data volume", name, v)
		}
		for i := 0; get(s, "ports", i) != nil; i++ {
			p := str(get(s, "ports", i))
			host := p[:strings.LastIndex(p, ":")]
			if other, dup := ports[host]; dup {
				t.Errorf("host port %s is mapped by %s and %s", host, other, name)
			}
			ports[host] = name
		}
	}
	if bootstrap != 1 || join != len(nodes)-1 {
		t.Errorf("want one bootstrapping node and %d joining, have %d and %d", len(nodes)-1, bootstrap, join)
	}
}

func fmtenc(v any) string { b, _ := json.Marshal(v); return string(b) }

func checkSystemd(t *testing.T) {
	unit := string(readFile(t, filepath.Join(deployDir, "systemd", "certchain.service")))
	keys := map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("certchain.service: %q is not KEY=VALUE", line)
			}
			keys[section+k] = v
		}
	}
	exec := keys["[Service]ExecStart"]
	if !strings.HasPrefix(exec, "/usr/local/bin/certchain node") {
		t.Fatalf("certchain.service: ExecStart=%q", exec)
	}
	checkFlags(t, "certchain.service", longFlags(exec))
	for k, want := range map[string]string{"User": "certchain", "StateDirectory": "certchain", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if got := keys["[Service]"+k]; got != want {
			t.Errorf("certchain.service: %s=%q, want %q", k, got, want)
		}
	}
	if keys["[Install]WantedBy"] == "" {
		t.Error("certchain.service has no [Install] WantedBy")
	}
	// The example configuration is one the node accepts (unknown keys
	// are an error there).
	example := filepath.Join(deployDir, "systemd", "node.example.json")
	cfg, err := loadConfig([]string{"--config", example}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("node.example.json: %v", err)
	}
	if cfg.DataDir != "/var/lib/certchain" {
		t.Errorf("node.example.json: data_dir %q is not the unit's StateDirectory", cfg.DataDir)
	}
}

func checkPrometheus(t *testing.T) {
	dir := filepath.Join(deployDir, "prometheus")
	docs := yamlDocs(t, filepath.Join(dir, "prometheus.yml"))
	if len(docs) != 1 {
		t.Fatal("prometheus.yml: want one document")
	}
	for i := 0; get(docs[0], "rule_files", i) != nil; i++ {
		if _, err := os.Stat(filepath.Join(dir, str(get(docs[0], "rule_files", i)))); err != nil {
			t.Errorf("prometheus.yml: rule file: %v", err)
		}
	}
	var targets int
	for i := 0; get(docs[0], "scrape_configs", i) != nil; i++ {
		sc := get(docs[0], "scrape_configs", i)
		for j := 0; get(sc, "static_configs", j) != nil; j++ {
			l, _ := get(sc, "static_configs", j, "targets").([]any)
			targets += len(l)
		}
	}
	if targets < 3 {
		t.Errorf("prometheus.yml scrapes %d targets, want the three nodes", targets)
	}
	if exprs := alertExprs(t); len(exprs) < 5 {
		t.Errorf("alerts.yml: %d rules", len(exprs))
	}
}

func checkDockerfile(t *testing.T) {
	df := string(readFile(t, filepath.Join(deployDir, "Dockerfile")))
	for _, want := range []string{"FROM golang:1.26", "FROM debian:bookworm-slim", "USER ", "VOLUME /data", "./cmd/certchain"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	checkEnv(t, "Dockerfile", regexp.MustCompile(`\bCERTCHAIN_[A-Z_]+`).FindAllString(df, -1))
}

var longFlagRE = regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9-]*)`)

// longFlags returns the --flag names in a command line or script. Only the
// node's flags appear as --long flags in the deploy files (curl's are short).
func longFlags(s string) []string {
	var names []string
	for _, m := range longFlagRE.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	return names
}

// checkFlags fails on a flag `certchain node` does not define.
func checkFlags(t *testing.T, where string, names []string) {
	t.Helper()
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.String("config", "", "")
	c := DefaultConfig()
	bindFlags(fs, &c)
	for _, n := range names {
		if fs.Lookup(n) == nil {
			t.Errorf("%s: certchain node has no flag --%s", where, n)
		}
	}
}

// checkEnv fails on a CERTCHAIN_* variable the node does not read.
func checkEnv(t *testing.T, where string, names []string) {
	t.Helper()
	read := map[string]bool{"CERTCHAIN_CONFIG": true}
	c := DefaultConfig()
	_ = applyEnv(&c, func(k string) string { read[k] = true; return "" })
	for _, n := range names {
		if strings.HasPrefix(n, "CERTCHAIN_") && !read[n] {
			t.Errorf("%s: certchain node does not read %s", where, n)
		}
	}
}

// metricNameRE finds metric names in PromQL: the node's own and the Go and
// process collectors' (`up` and other Prometheus-made series are not
// checked).
var metricNameRE = regexp.MustCompile(`\b(?:certchain|go|process)_[a-zA-Z0-9_]+`)

// dashboardExprs returns every PromQL expression of the Grafana dashboard:
// panel targets and template variable queries.
func dashboardExprs(t *testing.T) []string {
	var dash map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(deployDir, "grafana", "certchain-dashboard.json")), &dash); err != nil {
		t.Fatal(err)
	}
	if v, _ := dash["schemaVersion"].(float64); v < 36 {
		t.Errorf("dashboard schemaVersion %v", dash["schemaVersion"])
	}
	var exprs []string
	ids := map[float64]bool{}
	panels, _ := dash["panels"].([]any)
	for _, p := range panels {
		id, _ := get(p, "id").(float64)
		if ids[id] {
			t.Errorf("dashboard panel id %v used twice", id)
		}
		ids[id] = true
		if str(get(p, "type")) == "row" {
			continue
		}
		n := 0
		for i := 0; get(p, "targets", i) != nil; i++ {
			if e := str(get(p, "targets", i, "expr")); e != "" {
				exprs = append(exprs, e)
				n++
			}
		}
		if n == 0 {
			t.Errorf("dashboard panel %q has no PromQL target", str(get(p, "title")))
		}
	}
	for i := 0; get(dash, "templating", "list", i) != nil; i++ {
		v := get(dash, "templating", "list", i)
		exprs = append(exprs, str(get(v, "definition")), str(get(v, "query", "query")))
	}
	return exprs
}

func alertExprs(t *testing.T) []string {
	docs := yamlDocs(t, filepath.Join(deployDir, "prometheus", "alerts.yml"))
	var exprs []string
	for _, doc := range docs {
		for g := 0; get(doc, "groups", g) != nil; g++ {
			for r := 0; get(doc, "groups", g, "rules", r) != nil; r++ {
				rule := get(doc, "groups", g, "rules", r)
				if str(get(rule, "alert")) == "" || str(get(rule, "expr")) == "" {
					t.Errorf("alerts.yml: rule %d of group %d lacks alert or expr", r, g)
				}
				exprs = append(exprs, str(get(rule, "expr")))
			}
		}
	}
	return exprs
}

// TestDashboardNamesExportedMetrics starts a node, makes it apply a block,
// refuse a transaction and serve requests, and fails on any metric the
// Grafana dashboard or the alert rules name that the node does not export.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	good, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: a.Network.Genesis.NetworkID, Organization: "vendor", CommonName: "dash-1"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := pki.NewDevice(pki.DeviceOptions{NetworkID: "another-consortium", CommonName: "dash-2"})
	if err != nil {
		t.Fatal(err)
	}
	vendor := httpsClient(t, a, "vendor")
	for _, der := range [][]byte{good, foreign} { // one block applied, one refusal
		resp, err := vendor.Post(a.HTTPSURL+"/v1/certificates", "application/x-pem-file", bytes.NewReader(pki.EncodeCertPEM(der)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	exportedSeries(t, a.HTTPURL+"/metrics")
	exported := exportedSeries(t, a.HTTPURL+"/metrics") // now with the HTTP metrics of the first scrape

	where := map[string][]string{}
	for src, exprs := range map[string][]string{"dashboard": dashboardExprs(t), "alerts.yml": alertExprs(t)} {
		for _, e := range exprs {
			for _, name := range metricNameRE.FindAllString(e, -1) {
				if !slices.Contains(where[name], src) {
					where[name] = append(where[name], src)
				}
			}
		}
	}
	if len(where) < 10 {
		t.Fatalf("the dashboard and alerts name only %d metrics: %v", len(where), where)
	}
	var missing []string
	for name, srcs := range where {
		if !exported[name] {
			missing = append(missing, name+" (in "+strings.Join(srcs, ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("named but not exported by the node:\n  %s", strings.Join(missing, "\n  "))
	}
	// Metrics the node exports that no panel shows yet (e.g. OCSP before
	// its panels are added) are only reported.
	for name := range exported {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(base, "certchain_") && !slices.ContainsFunc(slices.Collect(maps.Keys(where)), func(n string) bool { return strings.HasPrefix(n, base) }) {
			t.Logf("not on the dashboard: %s", name)
		}
	}
}

// exportedSeries scrapes a node's /metrics and returns every series name
// in it (histograms as name_bucket, name_sum and name_count, as Prometheus
// stores them).
func exportedSeries(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
