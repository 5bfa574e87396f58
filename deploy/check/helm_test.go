package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
)

const release, namespace = "pagerd", "ops"

// render runs `helm install --dry-run` client side, as `helm template`
// does: values are checked against values.schema.json, the templates are
// rendered for Kubernetes 1.30, and every object is decoded strictly.
func render(t *testing.T, files []string, set ...string) (objects, error) {
	t.Helper()
	return renderAs(t, release, files, set...)
}

// renderAs is render for a release of that name.
func renderAs(t *testing.T, releaseName string, files []string, set ...string) (objects, error) {
	t.Helper()
	return renderOpts(t, releaseName, files, values.Options{Values: set})
}

// renderOpts is render with values given as opts says (--set-literal and
// the like), after the files.
func renderOpts(t *testing.T, releaseName string, files []string, opts values.Options) (objects, error) {
	t.Helper()
	chrt, err := loader.Load(repo("deploy", "helm", "pagerd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		opts.ValueFiles = append(opts.ValueFiles, repo("deploy", "helm", f))
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.ClientOnly, inst.DryRun, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = releaseName, namespace
	inst.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	rel, err := inst.Run(chrt, vals)
	if err != nil {
		return nil, err
	}
	return decodeStrict(rel.Manifest)
}

func mustRender(t *testing.T, files []string, set ...string) objects {
	t.Helper()
	objs, err := render(t, files, set...)
	if err != nil {
		t.Fatal(err)
	}
	checkServices(t, objs)
	return objs
}

func pagerdContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "pagerd" {
			return c
		}
	}
	t.Fatal("no pagerd container")
	return corev1.Container{}
}

// checkHelmPod: checkPagerdPod, and the checksum that rolls the pods on a
// config change (kustomize renames the ConfigMap instead).
func checkHelmPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	checkPagerdPod(t, d)
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a config change would not roll the pods")
	}
}

// checkPagerdPod: what every way of deploying must give pagerd's pods.
func checkPagerdPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pagerdContainer(t, d)
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
		t.Errorf("liveness probe %+v, want GET /-/healthy", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/-/ready" {
		t.Errorf("readiness probe %+v, want GET /-/ready", c.ReadinessProbe)
	}
	sc, psc := c.SecurityContext, pod.SecurityContext
	if sc == nil || psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("security context: pod %+v container %+v", psc, sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	// Start-up waits for the store before pagerd listens (serial 5s
	// timeouts against a Redis that takes connections and does not
	// answer: some 20s); liveness alone (3 failures 10s apart) restarts it
	// first, over and over.
	if p := c.StartupProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/-/healthy" || probeAllows(p) < startupAllowance {
		t.Errorf("startup probe %+v: want GET /-/healthy allowing at least %v before liveness counts", p, startupAllowance)
	}
	delay := shutdownDelayOf(t, c.Args)
	if delay <= 0 {
		t.Errorf("args %q: want a --shutdown-delay, for the endpoints to stop routing to the pod before it closes its port", c.Args)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < stopBudget(delay) {
		t.Errorf("terminationGracePeriodSeconds %s: want at least %v (the shutdown delay, then the page in flight: lease + send timeout, and a margin)", secondsOf(g), stopBudget(delay))
	}
}

// What a stop may take: the shutdown delay, then the dispatcher's claim in
// flight (pagerd's default lease, 30s, plus its 20s send timeout, which
// outlast the HTTP drain's 30s), and a margin. docs/OPERATIONS.md says
// the same.
func stopBudget(delay time.Duration) time.Duration {
	const lease, sendTimeout, margin = 30 * time.Second, 20 * time.Second, 5 * time.Second
	return delay + lease + sendTimeout + margin
}

// secondsOf prints an optional number of seconds.
func secondsOf(s *int64) string {
	if s == nil {
		return "unset"
	}
	return fmt.Sprintf("%ds", *s)
}

// startupAllowance is how long a start may take before liveness counts.
const startupAllowance = time.Minute

// probeAllows is how long a probe lets fail before it acts (Kubernetes'
// defaults: every 10s, 3 failures).
func probeAllows(p *corev1.Probe) time.Duration {
	period, failures := p.PeriodSeconds, p.FailureThreshold
	if period == 0 {
		period = 10
	}
	if failures == 0 {
		failures = 3
	}
	return time.Duration(period*failures) * time.Second
}

// shutdownDelayOf is the --shutdown-delay of pagerd's args (0 when none).
func shutdownDelayOf(t *testing.T, args []string) time.Duration {
	t.Helper()
	i := slices.Index(args, "--shutdown-delay")
	if i < 0 || i+1 >= len(args) {
		return 0
	}
	d, err := time.ParseDuration(args[i+1])
	if err != nil {
		t.Errorf("--shutdown-delay %q: %v", args[i+1], err)
	}
	return d
}

// runChartConfig lays out the pod's volumes as the kubelet would and runs
// `pagerd check-config` on the config the chart mounts, with the secret
// files where the chart mounts them: the chart's config and its secrets
// agree, and pagerd accepts them. It returns the rewritten args and root.
func runChartConfig(t *testing.T, objs objects, d *appsv1.Deployment) ([]string, func(string) string) {
	t.Helper()
	root := t.TempDir()
	c := pagerdContainer(t, d)
	rewrite := mountAndRewrite(t, objs, d.Spec.Template.Spec, c, root)
	cfgPath := rewrite("/etc/pagerd/pagerd.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatalf("the chart does not mount the config at /etc/pagerd/pagerd.yaml: %v", err)
	}
	if err := os.WriteFile(cfgPath, []byte(rewrite(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := pagerd(t, "check-config", cfgPath); err != nil {
		t.Fatalf("pagerd check-config on the chart's config: %v\n%s\n%s", err, out, b)
	}
	args := append([]string(nil), c.Args...)
	for i := range args {
		args[i] = rewrite(args[i])
	}
	return args, rewrite
}

func TestHelmEmbedded(t *testing.T) {
	objs := mustRender(t, []string{"examples/embedded.yaml"})
	want := "ConfigMap/pagerd Deployment/pagerd PersistentVolumeClaim/pagerd-data Secret/pagerd-secrets Service/pagerd ServiceAccount/pagerd"
	if got := strings.Join(objs.names(), " "); got != want {
		t.Fatalf("objects:\n%s\nwant:\n%s", got, want)
	}
	d := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	checkHelmPod(t, d)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("embedded store: %d replicas, strategy %s; want 1, Recreate (one writer per store)", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	pvc := objs.get("PersistentVolumeClaim", "pagerd-data").(*corev1.PersistentVolumeClaim)
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" || pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("PVC %+v", pvc)
	}
	// With store: embedded and more replicas asked for, still one.
	objs2 := mustRender(t, []string{"examples/embedded.yaml"}, "replicaCount=3")
	if r := *objs2.get("Deployment", "pagerd").(*appsv1.Deployment).Spec.Replicas; r != 1 {
		t.Errorf("embedded with replicaCount=3 runs %d replicas", r)
	}
	if objs2.get("PodDisruptionBudget", "pagerd") != nil {
		t.Error("a PDB on a single replica would block node drains")
	}

	// The pod's command line and mounts, run for real: pagerd serves from
	// the volume the chart gives it.
	args, rewrite := runChartConfig(t, objs, d)
	if !strings.Contains(strings.Join(args, " "), "--data-dir "+rewrite("/var/lib/pagerd")) {
		t.Fatalf("args %v do not put the store on the volume", args)
	}
	// The chart's own args and config: its listen address, not one of ours.
	args, addr := asDeployed(t, args, false)
	logs := &syncBuffer{}
	cmd := exec.Command(pagerdBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitReady(t, addr, logs)
	if _, err := os.Stat(filepath.Join(rewrite("/var/lib/pagerd"), "pagerd.db")); err != nil {
		t.Fatalf("no store on the data volume: %v", err)
	}
}

func TestHelmInternalRedis(t *testing.T) {
	objs := mustRender(t, []string{"examples/redis.yaml"})
	want := "ConfigMap/pagerd Deployment/pagerd NetworkPolicy/pagerd NetworkPolicy/pagerd-redis PodDisruptionBudget/pagerd " +
		"Secret/pagerd-redis Secret/pagerd-redis-url Secret/pagerd-secrets Service/pagerd Service/pagerd-redis ServiceAccount/pagerd " +
		"ServiceMonitor/pagerd StatefulSet/pagerd-redis"
	if got := strings.Join(objs.names(), " "); got != want {
		t.Fatalf("objects:\n%s\nwant:\n%s", got, want)
	}
	d := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	checkHelmPod(t, d)
	if *d.Spec.Replicas != 2 || d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("redis store: %d replicas, strategy %+v; want 2, rolling with none unavailable", *d.Spec.Replicas, d.Spec.Strategy)
	}
	ss := objs.get("StatefulSet", "pagerd-redis").(*appsv1.StatefulSet)
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Errorf("redis StatefulSet has no 2Gi volume: %+v", ss.Spec.VolumeClaimTemplates)
	}
	sec := objs.get("Secret", "pagerd-redis").(*corev1.Secret)
	conf := string(sec.Data["redis.conf"])
	for _, line := range []string{"appendonly yes", "appendfsync always", "dir /data", `requirepass "` + string(sec.Data["password"]) + `"`} {
		if !strings.Contains(conf, line+"\n") {
			t.Errorf("redis.conf lacks %q:\n%s", line, conf)
		}
	}
	url := string(objs.get("Secret", "pagerd-redis-url").(*corev1.Secret).Data["url"])
	if want := "redis://:" + string(sec.Data["password"]) + "@pagerd-redis:6379/0"; url != want || len(sec.Data["password"]) != 32 {
		t.Errorf("pagerd's Redis URL %q, want %q with the generated 32-character password", url, want)
	}
	runInternalRedis(t, objs)
}

// A password of the user's with characters that mean something in a URL
// or in redis.conf (a space, @ : / % + # ? quotes, a backslash) reaches
// Redis and pagerd as it is: Redis starts on the chart's redis.conf and
// pagerd logs in with the chart's URL.
func TestHelmInternalRedisPasswordWithSpecialCharacters(t *testing.T) {
	const pw = `p@ss w:rd/50%+#?"x'\end`
	objs, err := renderOpts(t, release, []string{"examples/redis.yaml"}, values.Options{LiteralValues: []string{"redis.internal.password=" + pw}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(objs.get("Secret", "pagerd-redis").(*corev1.Secret).Data["password"]); got != pw {
		t.Fatalf("the password Secret holds %q, want %q", got, pw)
	}
	runInternalRedis(t, objs)
}

// A password with a control character cannot be written in redis.conf as
// the chart writes it: refused by the schema rather than a Redis that does
// not start.
func TestHelmRefusesInternalRedisPasswordWithControlCharacter(t *testing.T) {
	_, err := renderOpts(t, release, []string{"examples/redis.yaml"}, values.Options{LiteralValues: []string{"redis.internal.password=a\nb"}})
	if err == nil || !strings.Contains(err.Error(), "/redis/internal/password") {
		t.Fatalf("render: %v, want the schema to refuse the password", err)
	}
}

// With redis.internal.existingSecret the chart renders the same objects
// every time and no password: a render without the cluster (helm
// template, Argo CD), where the generated password's lookup finds nothing,
// would otherwise make a new password at every render, a diff that never
// settles and Redis and pagerd restarted at every sync. Redis and pagerd's
// init container take the password from the Secret at start: run here with
// the pods' commands, on a password with URL and shell characters.
func TestHelmInternalRedisExistingSecret(t *testing.T) {
	set := []string{"redis.internal.existingSecret=my-redis"}
	objs := mustRender(t, []string{"examples/redis.yaml"}, set...)
	if again := mustRender(t, []string{"examples/redis.yaml"}, set...); !reflect.DeepEqual(objs, again) {
		t.Fatal("two renders with redis.internal.existingSecret differ")
	}
	want := "ConfigMap/pagerd Deployment/pagerd NetworkPolicy/pagerd NetworkPolicy/pagerd-redis PodDisruptionBudget/pagerd " +
		"Secret/pagerd-redis Secret/pagerd-secrets Service/pagerd Service/pagerd-redis ServiceAccount/pagerd " +
		"ServiceMonitor/pagerd StatefulSet/pagerd-redis"
	if got := strings.Join(objs.names(), " "); got != want {
		t.Fatalf("objects:\n%s\nwant:\n%s", got, want)
	}
	sec := objs.get("Secret", "pagerd-redis").(*corev1.Secret)
	if _, ok := sec.Data["password"]; ok || strings.Contains(string(sec.Data["redis.conf"]), "requirepass") {
		t.Fatalf("the chart rendered a password: %q", sec.Data)
	}
	if _, err := render(t, []string{"examples/redis.yaml"}, append(set, "redis.internal.password=x")...); err == nil ||
		!strings.Contains(err.Error(), "set redis.internal.password or redis.internal.existingSecret, not both") {
		t.Errorf("both a password and an existing Secret: %v", err)
	}

	const pw = `p@ss w:rd/50%+#?"x'\\end $(id)`
	ss := objs.get("StatefulSet", "pagerd-redis").(*appsv1.StatefulSet)
	rc := ss.Spec.Template.Spec.Containers[0]
	if len(rc.Env) != 1 || rc.Env[0].ValueFrom.SecretKeyRef.Name != "my-redis" || rc.Env[0].ValueFrom.SecretKeyRef.Key != "password" {
		t.Fatalf("Redis does not take its password from my-redis: %+v", rc.Env)
	}
	dir := t.TempDir()
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	conf := strings.NewReplacer("port 6379", "port "+port, "dir /data", "dir "+dir).Replace(string(sec.Data["redis.conf"])) + "bind 127.0.0.1\n"
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	redisArgs := append(slices.Clone(rc.Command[1:]), rc.Args...)
	for i, a := range redisArgs {
		redisArgs[i] = strings.ReplaceAll(a, "/etc/redis/redis.conf", filepath.Join(dir, "redis.conf"))
	}
	redisLogs := &syncBuffer{}
	rs := exec.Command(rc.Command[0], redisArgs...)
	rs.Env = append(os.Environ(), rc.Env[0].Name+"="+pw)
	rs.Stdout, rs.Stderr = redisLogs, redisLogs
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Process.Kill(); _ = rs.Wait() })
	waitLog(t, redisLogs, "Ready to accept connections")
	if out, err := exec.Command("redis-cli", "-p", port, "ping").CombinedOutput(); err != nil || !strings.Contains(string(out), "NOAUTH") {
		t.Fatalf("Redis answers without the password: %v %s", err, out)
	}

	d := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	checkHelmPod(t, d)
	inits := d.Spec.Template.Spec.InitContainers
	if len(inits) != 1 || len(inits[0].Env) != 1 || inits[0].Env[0].ValueFrom.SecretKeyRef.Name != "my-redis" {
		t.Fatalf("pagerd's pod makes no URL from my-redis: %+v", inits)
	}
	args, rewrite := runChartConfig(t, objs, d)
	ic := inits[0]
	initArgs := append(slices.Clone(ic.Command[1:]), ic.Args...)
	for i, a := range initArgs {
		initArgs[i] = strings.NewReplacer("/etc/pagerd/redis/url", rewrite("/etc/pagerd/redis/url"), "pagerd-redis:6379", "127.0.0.1:"+port).Replace(a)
	}
	ini := exec.Command(ic.Command[0], initArgs...)
	ini.Env = append(os.Environ(), ic.Env[0].Name+"="+pw)
	if out, err := ini.CombinedOutput(); err != nil {
		t.Fatalf("the init container: %v\n%s", err, out)
	}
	args, addr := asDeployed(t, args, false)
	logs := &syncBuffer{}
	cmd := exec.Command(pagerdBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitReady(t, addr, logs)
	if !strings.Contains(logs.String(), `"msg":"store: redis"`) {
		t.Fatalf("pagerd did not use Redis:\n%s", logs)
	}
}

// runInternalRedis runs redis-server on the chart's redis.conf (port and
// dir moved here) and pagerd on the chart's args, config and URL secret
// (host moved here). pagerd must be ready on that Redis, which must keep an
// append-only file.
func runInternalRedis(t *testing.T, objs objects) {
	t.Helper()
	d := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	conf := string(objs.get("Secret", "pagerd-redis").(*corev1.Secret).Data["redis.conf"])
	url := string(objs.get("Secret", "pagerd-redis-url").(*corev1.Secret).Data["url"])
	dir := t.TempDir()
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	conf = strings.NewReplacer("port 6379", "port "+port, "dir /data", "dir "+dir).Replace(conf) + "bind 127.0.0.1\n"
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	redisLogs := &syncBuffer{}
	rs := exec.Command("redis-server", filepath.Join(dir, "redis.conf"))
	rs.Stdout, rs.Stderr = redisLogs, redisLogs
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Process.Kill(); _ = rs.Wait() })
	waitLog(t, redisLogs, "Ready to accept connections")
	args, rewrite := runChartConfig(t, objs, d)
	urlFile := rewrite("/etc/pagerd/redis/url")
	if err := os.WriteFile(urlFile, []byte(strings.Replace(url, "pagerd-redis:6379", "127.0.0.1:"+port, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The chart's own args and config: its listen address, not one of ours.
	args, addr := asDeployed(t, args, false)
	logs := &syncBuffer{}
	cmd := exec.Command(pagerdBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitReady(t, addr, logs)
	if !strings.Contains(logs.String(), `"msg":"store: redis"`) {
		t.Fatalf("pagerd did not use Redis:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "appendonlydir")); err != nil {
		t.Fatalf("Redis keeps no append-only file with the chart's config: %v", err)
	}
}

func TestHelmExternalRedis(t *testing.T) {
	objs := mustRender(t, []string{"examples/redis.yaml"}, "redis.internal.enabled=false", `redis.url=redis-sentinel://s1:26379\,s2:26379/mymaster`,
		"replicaCount=3", "serviceMonitor.enabled=false", "networkPolicy.enabled=false")
	want := "ConfigMap/pagerd Deployment/pagerd PodDisruptionBudget/pagerd Secret/pagerd-redis-url Secret/pagerd-secrets Service/pagerd ServiceAccount/pagerd"
	if got := strings.Join(objs.names(), " "); got != want {
		t.Fatalf("objects:\n%s\nwant:\n%s", got, want)
	}
	d := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	checkHelmPod(t, d)
	if *d.Spec.Replicas != 3 {
		t.Errorf("%d replicas, want 3", *d.Spec.Replicas)
	}
	if u := string(objs.get("Secret", "pagerd-redis-url").(*corev1.Secret).Data["url"]); u != "redis-sentinel://s1:26379,s2:26379/mymaster" {
		t.Errorf("redis URL secret %q", u)
	}
	cm := objs.get("ConfigMap", "pagerd").(*corev1.ConfigMap)
	var cfg struct {
		Server map[string]any `json:"server"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["pagerd.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.Server) != "map[listen::8080 redis:map[url_file:/etc/pagerd/redis/url]]" {
		t.Errorf("the chart's server settings: %v", cfg.Server)
	}
	runChartConfig(t, objs, d)

	// An existing Secret instead of a URL, and secrets of the user's own.
	objs = mustRender(t, []string{"examples/redis.yaml"}, "redis.internal.enabled=false", "redis.existingSecret=my-redis",
		"redis.existingSecretKey=uri", "secrets=null", "existingSecret=my-pagerd-secrets")
	d = objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	var redisVol, secretsVol *corev1.Volume
	for i, v := range d.Spec.Template.Spec.Volumes {
		switch v.Name {
		case "redis-url":
			redisVol = &d.Spec.Template.Spec.Volumes[i]
		case "secrets":
			secretsVol = &d.Spec.Template.Spec.Volumes[i]
		}
	}
	if redisVol == nil || redisVol.Secret.SecretName != "my-redis" || redisVol.Secret.Items[0].Key != "uri" ||
		secretsVol == nil || secretsVol.Secret.SecretName != "my-pagerd-secrets" {
		t.Errorf("volumes %+v", d.Spec.Template.Spec.Volumes)
	}
	if objs.get("Secret", "pagerd-redis-url") != nil || objs.get("Secret", "pagerd-secrets") != nil {
		t.Errorf("the chart made Secrets the user provides: %v", objs.names())
	}
}

// A config change changes the pods' checksum annotation (so the pods roll
// and load it); an unrelated change does not.
func TestHelmConfigChecksum(t *testing.T) {
	sum := func(set ...string) string {
		objs := mustRender(t, []string{"examples/embedded.yaml"}, set...)
		return objs.get("Deployment", "pagerd").(*appsv1.Deployment).Spec.Template.Annotations["checksum/config"]
	}
	base := sum()
	if base != sum("resources.limits.memory=512Mi") {
		t.Error("the config checksum changed with no config change")
	}
	if base == sum("config.users[0].name=Annie") {
		t.Error("the config checksum did not change with the config")
	}
}

// Values that cannot work are refused with what to do: by the schema
// (unknown keys, wrong types) or by the chart.
func TestHelmRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		set   []string
		want  string
	}{
		{"defaults", nil, nil, "config is required"},
		{"no redis", []string{"examples/redis.yaml"}, []string{"redis.internal.enabled=false"}, "store: redis needs exactly one of redis.url"},
		{"two redis", []string{"examples/redis.yaml"}, []string{"redis.url=redis://r:6379"}, "store: redis needs exactly one of"},
		{"unknown key", []string{"examples/embedded.yaml"}, []string{"replicas=2"}, "additional properties 'replicas' not allowed"},
		{"typo in a nested key", []string{"examples/embedded.yaml"}, []string{"embedded.persistence.sise=1Gi"}, "at '/embedded/persistence': additional properties 'sise' not allowed"},
		{"wrong type", []string{"examples/embedded.yaml"}, []string{"replicaCount=two"}, "at '/replicaCount'"},
		{"bad store", []string{"examples/embedded.yaml"}, []string{"store=postgres"}, "at '/store'"},
		{"bad redis url", []string{"examples/redis.yaml"}, []string{"redis.internal.enabled=false", "redis.url=http://r"}, "at '/redis/url'"},
		{"bad size", []string{"examples/embedded.yaml"}, []string{"embedded.persistence.size=lots"}, "at '/embedded/persistence/size'"},
		{"listen in config", []string{"examples/embedded.yaml"}, []string{"config.server.listen=:9000"}, "config.server.listen is set by the chart"},
		{"grace shorter than a stop", []string{"examples/embedded.yaml"}, []string{"terminationGracePeriodSeconds=45"}, "at '/terminationGracePeriodSeconds'"},
		{"bad shutdown delay", []string{"examples/embedded.yaml"}, []string{"shutdownDelay=5"}, "at '/shutdownDelay'"},
		// A pod killed mid-claim may page twice (another replica takes the
		// claim over) or late (at the next start).
		{"grace shorter than a raised lease", []string{"examples/redis.yaml"}, []string{"config.server.lease=90s"}, "terminationGracePeriodSeconds 75 is shorter than a stop can take"},
		{"grace shorter than a lease of minutes", []string{"examples/redis.yaml"}, []string{"config.server.lease=1m30s", "terminationGracePeriodSeconds=100"}, "= 115s"},
		{"grace shorter than a longer delay", []string{"examples/embedded.yaml"}, []string{"shutdownDelay=30s"}, "terminationGracePeriodSeconds 75 is shorter than a stop can take"},
		{"internal redis with embedded", []string{"examples/embedded.yaml"}, []string{"redis.internal.enabled=true"}, "redis.internal.enabled needs store: redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.files, tc.set...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// A raised lease or shutdown delay renders once the grace period covers
// the stop it makes.
func TestHelmGraceCoversRaisedLease(t *testing.T) {
	objs := mustRender(t, []string{"examples/redis.yaml"}, "config.server.lease=90s", "shutdownDelay=10s", "terminationGracePeriodSeconds=120")
	if g := *objs.get("Deployment", "pagerd").(*appsv1.Deployment).Spec.Template.Spec.TerminationGracePeriodSeconds; g != 120 {
		t.Errorf("terminationGracePeriodSeconds %d, want 120", g)
	}
	mustRender(t, []string{"examples/embedded.yaml"}, "shutdownDelay=500ms", "config.server.lease=0")
}

// helm lint finds nothing to warn about.
func TestHelmLint(t *testing.T) {
	for _, f := range []string{"examples/embedded.yaml", "examples/redis.yaml"} {
		vals, err := (&values.Options{ValueFiles: []string{repo("deploy", "helm", f)}}).MergeValues(getter.Providers{})
		if err != nil {
			t.Fatal(err)
		}
		l := action.NewLint()
		l.Strict = true
		l.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
		res := l.Run([]string{repo("deploy", "helm", "pagerd")}, vals)
		for _, m := range res.Messages {
			if m.Severity > 1 { // above INFO
				t.Errorf("helm lint with %s: %s", f, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("helm lint with %s: %v", f, err)
		}
	}
}

// The job label Prometheus gives pagerd's series through the chart's
// ServiceMonitor is "pagerd" whatever the release is called: every rule
// in deploy/prometheus/pagerd-rules.yml selects job="pagerd", and with
// any other job PagerdDown, PagerdNotReady and the rest never fire.
func TestHelmServiceMonitorJob(t *testing.T) {
	rules, err := os.ReadFile(repo("deploy", "prometheus", "pagerd-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rules), `job="pagerd"`); n == 0 || n != strings.Count(string(rules), `job=`) {
		t.Fatalf("the rules do not all select job=\"pagerd\"")
	}
	for _, rel := range []string{"pagerd", "paging", "oncall", "pagerd-prod"} {
		t.Run(rel, func(t *testing.T) {
			objs, err := renderAs(t, rel, []string{"examples/redis.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			var sm *monitoringv1.ServiceMonitor
			var svcs []*corev1.Service
			for _, o := range objs {
				switch x := o.Obj.(type) {
				case *monitoringv1.ServiceMonitor:
					sm = x
				case *corev1.Service:
					svcs = append(svcs, x)
				}
			}
			if sm == nil || len(sm.Spec.Endpoints) != 1 {
				t.Fatalf("no ServiceMonitor with one endpoint: %v", objs.names())
			}
			for _, svc := range svcs {
				scraped := false
				for _, p := range svc.Spec.Ports {
					scraped = scraped || p.Name == sm.Spec.Endpoints[0].Port
				}
				if !scraped || !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
					continue
				}
				if job := scrapeJob(sm, svc); job != "pagerd" {
					t.Errorf("release %q: Service %s is scraped as job=%q, the rules select job=\"pagerd\"", rel, svc.Name, job)
				}
			}
		})
	}
}

// scrapeJob is the job label the Prometheus Operator gives a Service's
// targets: the Service's name, or the value of its jobLabel label, then
// the endpoint's relabelings of job (those that set it outright).
func scrapeJob(sm *monitoringv1.ServiceMonitor, svc *corev1.Service) string {
	job := svc.Name
	if sm.Spec.JobLabel != "" && svc.Labels[sm.Spec.JobLabel] != "" {
		job = svc.Labels[sm.Spec.JobLabel]
	}
	for _, r := range sm.Spec.Endpoints[0].RelabelConfigs {
		action := strings.ToLower(r.Action)
		if r.TargetLabel == "job" && (action == "" || action == "replace") && len(r.SourceLabels) == 0 && r.Replacement != nil {
			job = *r.Replacement
		}
	}
	return job
}
