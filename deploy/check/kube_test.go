package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// kinds are the objects deploy/ may produce, with their API versions and
// typed Go structs. Anything else is an error.
var kinds = map[string]struct {
	apiVersion string
	new        func() any
}{
	"ConfigMap":             {"v1", func() any { return &corev1.ConfigMap{} }},
	"Secret":                {"v1", func() any { return &corev1.Secret{} }},
	"Service":               {"v1", func() any { return &corev1.Service{} }},
	"ServiceAccount":        {"v1", func() any { return &corev1.ServiceAccount{} }},
	"PersistentVolumeClaim": {"v1", func() any { return &corev1.PersistentVolumeClaim{} }},
	"Deployment":            {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"StatefulSet":           {"apps/v1", func() any { return &appsv1.StatefulSet{} }},
	"PodDisruptionBudget":   {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"NetworkPolicy":         {"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }},
	"ServiceMonitor":        {"monitoring.coreos.com/v1", func() any { return &monitoringv1.ServiceMonitor{} }},
}

// object is one decoded manifest.
type object struct {
	Kind, Name string
	Obj        any
}

// objects is a set of manifests, by kind and name.
type objects []object

func (os objects) get(kind, name string) any {
	for _, o := range os {
		if o.Kind == kind && o.Name == name {
			return o.Obj
		}
	}
	return nil
}

func (os objects) names() []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Kind+"/"+o.Name)
	}
	sort.Strings(out)
	return out
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeStrict decodes a multi-document YAML stream into Kubernetes types,
// refusing unknown fields, duplicate keys, unknown kinds, wrong API
// versions, invalid names and selectors that do not select their own pods.
func decodeStrict(stream string) (objects, error) {
	var out objects
	seen := map[string]bool{}
	for _, doc := range docSep.Split(stream, -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%v in:\n%s", err, doc)
		}
		k, ok := kinds[tm.Kind]
		if !ok {
			return nil, fmt.Errorf("unexpected kind %q in:\n%s", tm.Kind, doc)
		}
		if tm.APIVersion != k.apiVersion {
			return nil, fmt.Errorf("%s has apiVersion %q, want %q", tm.Kind, tm.APIVersion, k.apiVersion)
		}
		obj := k.new()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("%s: %v in:\n%s", tm.Kind, err, doc)
		}
		meta := obj.(metav1.Object)
		if errs := validation.IsDNS1123Subdomain(meta.GetName()); len(errs) > 0 {
			return nil, fmt.Errorf("%s %q: %v", tm.Kind, meta.GetName(), errs)
		}
		if id := tm.Kind + "/" + meta.GetName(); seen[id] {
			return nil, fmt.Errorf("%s twice", id)
		} else {
			seen[id] = true
		}
		if err := checkWorkload(obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", tm.Kind, meta.GetName(), err)
		}
		out = append(out, object{tm.Kind, meta.GetName(), obj})
	}
	return out, nil
}

// checkWorkload: a workload's selector selects its own pods, probes and
// service ports name ports that exist, and every mount has its volume.
func checkWorkload(obj any) error {
	var sel *metav1.LabelSelector
	var tpl *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		sel, tpl = o.Spec.Selector, &o.Spec.Template
	case *appsv1.StatefulSet:
		sel, tpl = o.Spec.Selector, &o.Spec.Template
		for _, c := range o.Spec.VolumeClaimTemplates {
			tpl.Spec.Volumes = append(tpl.Spec.Volumes, corev1.Volume{Name: c.Name})
		}
	default:
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return err
	}
	if s.Empty() || !s.Matches(labels.Set(tpl.Labels)) {
		return fmt.Errorf("selector %v does not select the pod template's labels %v", sel, tpl.Labels)
	}
	vols := map[string]bool{}
	for _, v := range tpl.Spec.Volumes {
		vols[v.Name] = true
	}
	for _, c := range tpl.Spec.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if pr != nil && pr.HTTPGet != nil && pr.HTTPGet.Port.StrVal != "" && !ports[pr.HTTPGet.Port.StrVal] {
				return fmt.Errorf("container %s: probe on port %q, which it does not declare", c.Name, pr.HTTPGet.Port.StrVal)
			}
		}
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				return fmt.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, m.Name)
			}
		}
	}
	return nil
}

// checkServices: every Service selects the pods of a workload in the set
// and targets a port they declare.
func checkServices(t *testing.T, objs objects) {
	t.Helper()
	for _, o := range objs {
		svc, ok := o.Obj.(*corev1.Service)
		if !ok {
			continue
		}
		found := false
		for _, w := range objs {
			var tpl *corev1.PodTemplateSpec
			switch x := w.Obj.(type) {
			case *appsv1.Deployment:
				tpl = &x.Spec.Template
			case *appsv1.StatefulSet:
				tpl = &x.Spec.Template
			default:
				continue
			}
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tpl.Labels)) {
				continue
			}
			found = true
			for _, sp := range svc.Spec.Ports {
				declared := false
				for _, c := range tpl.Spec.Containers {
					for _, p := range c.Ports {
						declared = declared || p.Name == sp.TargetPort.StrVal || p.ContainerPort == sp.TargetPort.IntVal
					}
				}
				if !declared {
					t.Errorf("Service %s targets port %v, which %s's pods do not declare", svc.Name, sp.TargetPort, w.Name)
				}
			}
		}
		if !found {
			t.Errorf("Service %s selects no workload's pods (%v)", svc.Name, svc.Spec.Selector)
		}
	}
}

// mountAndRewrite lays out a container's volumes under root as the kubelet
// would mount them (ConfigMaps and Secrets as files, subPath mounts as one
// file, other volumes as empty directories) and returns a function that
// rewrites the container's paths to the paths under root.
func mountAndRewrite(t *testing.T, objs objects, pod corev1.PodSpec, c corev1.Container, root string) func(string) string {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := append([]corev1.VolumeMount(nil), c.VolumeMounts...)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].MountPath) > len(mounts[j].MountPath) })
	var pairs []string
	for _, m := range mounts {
		dst := filepath.Join(root, m.MountPath)
		pairs = append(pairs, m.MountPath, dst)
		v := vols[m.Name]
		files := map[string][]byte{}
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			cm, _ := objs.get("ConfigMap", v.ConfigMap.Name).(*corev1.ConfigMap)
			if cm == nil {
				t.Fatalf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
			for k, s := range cm.Data {
				files[k] = []byte(s)
			}
			items = v.ConfigMap.Items
		case v.Secret != nil:
			sec, _ := objs.get("Secret", v.Secret.SecretName).(*corev1.Secret)
			if sec == nil {
				t.Fatalf("volume %s: no Secret %s", v.Name, v.Secret.SecretName)
			}
			for k, b := range sec.Data {
				files[k] = b
			}
			for k, s := range sec.StringData {
				files[k] = []byte(s)
			}
			items = v.Secret.Items
		default:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if len(items) > 0 {
			picked := map[string][]byte{}
			for _, it := range items {
				b, ok := files[it.Key]
				if !ok {
					t.Fatalf("volume %s: no key %q", v.Name, it.Key)
				}
				picked[it.Path] = b
			}
			files = picked
		}
		if m.SubPath != "" {
			b, ok := files[m.SubPath]
			if !ok {
				t.Fatalf("mount %s: volume %s has no %q", m.MountPath, v.Name, m.SubPath)
			}
			files = map[string][]byte{filepath.Base(dst): b}
			dst = filepath.Dir(dst)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}
