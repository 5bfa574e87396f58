package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomize builds an overlay as `kubectl apply -k` would.
func kustomize(t *testing.T, overlay string) objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), repo("deploy", "kubernetes", "overlays", overlay))
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeStrict(string(y))
	if err != nil {
		t.Fatal(err)
	}
	checkServices(t, objs)
	return objs
}

func deploymentOf(t *testing.T, objs objects) *appsv1.Deployment {
	t.Helper()
	d, _ := objs.get("Deployment", "pagerd").(*appsv1.Deployment)
	if d == nil {
		t.Fatalf("no Deployment pagerd in %v", objs.names())
	}
	checkPagerdPod(t, d)
	return d
}

// servePod runs the pod's pagerd command line with its volumes laid out as
// the kubelet would, until ready. prepare, when not nil, is called first
// with the function that maps the pod's paths to the files here.
func servePod(t *testing.T, objs objects, d *appsv1.Deployment, prepare func(rewrite func(string) string)) (*syncBuffer, func(string) string) {
	t.Helper()
	args, rewrite := runChartConfig(t, objs, d)
	if prepare != nil {
		prepare(rewrite)
	}
	// The overlay's own args: its listen address, not one of ours, with
	// the config a user edits saying loopback as the quickstart's does.
	args, addr := asDeployed(t, args, true)
	logs := &syncBuffer{}
	cmd := exec.Command(pagerdBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitReady(t, addr, logs)
	return logs, rewrite
}

func TestKustomizeEmbedded(t *testing.T) {
	objs := kustomize(t, "embedded")
	d := deploymentOf(t, objs)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("embedded overlay: %d replicas, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	var cm, sec string
	for _, o := range objs {
		switch {
		case o.Kind == "ConfigMap":
			cm = o.Name
		case o.Kind == "Secret":
			sec = o.Name
		}
	}
	// Hashed names, referred to by the Deployment: a change rolls the pods.
	if !strings.HasPrefix(cm, "pagerd-config-") || !strings.HasPrefix(sec, "pagerd-secrets-") {
		t.Errorf("generated names %q %q carry no content hash", cm, sec)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if (v.ConfigMap != nil && v.ConfigMap.Name != cm) || (v.Secret != nil && v.Secret.SecretName != sec) {
			t.Errorf("volume %s refers to %+v, not the generated %s / %s", v.Name, v.VolumeSource, cm, sec)
		}
	}
	if objs.get("PersistentVolumeClaim", "pagerd-data") == nil {
		t.Error("no PVC for the embedded store")
	}
	_, rewrite := servePod(t, objs, d, nil)
	if _, err := os.Stat(filepath.Join(rewrite("/var/lib/pagerd"), "pagerd.db")); err != nil {
		t.Fatalf("no store on the data volume: %v", err)
	}
}

func TestKustomizeRedis(t *testing.T) {
	objs := kustomize(t, "redis")
	d := deploymentOf(t, objs)
	if *d.Spec.Replicas != 2 {
		t.Errorf("redis overlay: %d replicas, want 2", *d.Spec.Replicas)
	}
	var ss *appsv1.StatefulSet
	var redisSec, urlSec *corev1.Secret
	for _, o := range objs {
		switch x := o.Obj.(type) {
		case *appsv1.StatefulSet:
			ss = x
		case *corev1.Secret:
			switch {
			case strings.HasPrefix(o.Name, "pagerd-redis-url-"):
				urlSec = x
			case strings.HasPrefix(o.Name, "pagerd-redis-"):
				redisSec = x
			}
		}
	}
	if ss == nil || redisSec == nil || urlSec == nil || objs.get("PodDisruptionBudget", "pagerd") == nil {
		t.Fatalf("the redis overlay lacks Redis, its Secrets or the PDB: %v", objs.names())
	}
	if ss.Spec.Template.Spec.Volumes[0].Secret.SecretName != redisSec.Name {
		t.Errorf("Redis mounts %s, not the generated %s", ss.Spec.Template.Spec.Volumes[0].Secret.SecretName, redisSec.Name)
	}
	// The URL holds the password: from the Secret's file, never on the
	// command line, where ps on the node shows it ($(VAR) is expanded
	// into the process's arguments).
	c := pagerdContainer(t, d)
	if slices.ContainsFunc(c.Args, func(a string) bool {
		return strings.Contains(a, "$(") || strings.Contains(a, "redis://") || a == "--redis-url"
	}) {
		t.Errorf("pagerd's args %q put the Redis URL on the command line", c.Args)
	}
	if i := slices.Index(c.Args, "--redis-url-file"); i < 0 || i+1 == len(c.Args) || c.Args[i+1] != "/etc/pagerd/redis/url" {
		t.Errorf("pagerd's args %q do not read the URL from /etc/pagerd/redis/url", c.Args)
	}
	mounted := false
	for _, v := range d.Spec.Template.Spec.Volumes {
		mounted = mounted || (v.Secret != nil && v.Secret.SecretName == urlSec.Name)
	}
	if !mounted || len(c.Env) != 0 {
		t.Errorf("the URL Secret %s is not a volume of pagerd's pod, or the URL is in its environment: %+v %+v", urlSec.Name, d.Spec.Template.Spec.Volumes, c.Env)
	}
	conf := string(redisSec.Data["redis.conf"])
	url := string(urlSec.Data["url"])
	pw := string(redisSec.Data["password"])
	if !strings.Contains(conf, `requirepass "`+pw+`"`+"\n") || !strings.Contains(url, ":"+pw+"@pagerd-redis:6379") ||
		!strings.Contains(conf, "appendonly yes\n") || !strings.Contains(conf, "appendfsync always\n") {
		t.Fatalf("redis.conf, the password and the URL disagree:\n%s\n%s", conf, url)
	}

	// Redis on the overlay's redis.conf, pagerd on the overlay's args.
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
	logs, _ := servePod(t, objs, d, func(rewrite func(string) string) {
		here := strings.Replace(url, "pagerd-redis:6379", "127.0.0.1:"+port, 1)
		if err := os.WriteFile(rewrite("/etc/pagerd/redis/url"), []byte(here), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(logs.String(), `"msg":"store: redis"`) {
		t.Fatalf("pagerd did not use Redis:\n%s", logs)
	}
}
