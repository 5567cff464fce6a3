//! Manifests are judged as the API server will read them: YAML 1.1 scalars (`yes`, `on`) are
//! booleans, and a duplicate key is an input error rather than a silent choice of one value.

use kubelab_lint::{lint, Options};

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: p, namespace: app}
spec:
  HOST_FIELD
  containers:
  - name: c
    image: registry.example/app:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000
    securityContext:
      PRIV_FIELD
";

fn rules(text: &str) -> Vec<&'static str> {
    let docs = kubelab_manifests::parse("pod.yaml", text).unwrap();
    let mut rules: Vec<_> = lint(&docs, &Options::default())
        .into_iter()
        .map(|f| f.rule)
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn privileged_yes_is_privileged() {
    for word in ["yes", "Yes", "on", "ON", "y", "true"] {
        let text = POD
            .replace("HOST_FIELD", "hostIPC: false")
            .replace("PRIV_FIELD", &format!("privileged: {word}"));
        assert!(
            rules(&text).contains(&"KL107"),
            "`privileged: {word}` must be read as true: {:?}",
            rules(&text)
        );
    }
    let quoted = POD
        .replace("HOST_FIELD", "hostIPC: false")
        .replace("PRIV_FIELD", "privileged: no");
    assert!(!rules(&quoted).contains(&"KL107"));
}

#[test]
fn host_network_on_is_host_network() {
    let on = POD
        .replace("HOST_FIELD", "hostNetwork: on")
        .replace("PRIV_FIELD", "privileged: false");
    let off = POD
        .replace("HOST_FIELD", "hostNetwork: off")
        .replace("PRIV_FIELD", "privileged: false");
    let with_on = rules(&on);
    let with_off = rules(&off);
    let extra: Vec<_> = with_on.iter().filter(|r| !with_off.contains(r)).collect();
    assert!(
        !extra.is_empty(),
        "`hostNetwork: on` must add a finding over `off`: {with_on:?} vs {with_off:?}"
    );
}

#[test]
fn a_duplicate_key_is_an_input_error_with_both_lines() {
    let text = POD
        .replace("HOST_FIELD", "hostIPC: false")
        .replace("PRIV_FIELD", "privileged: false\n      privileged: true");
    let err = kubelab_manifests::parse("pod.yaml", &text).unwrap_err();
    assert_eq!(err.line, 11, "{err:?}");
    assert!(err.message.contains("`privileged`"), "{}", err.message);
    assert!(err.message.contains("first at line 10"), "{}", err.message);
}

#[test]
fn a_duplicate_key_spoils_only_its_own_document() {
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\n";
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: x, a: y}\n";
    let text = format!("{good}---\n{bad}---\n{good}");
    let mut names = Vec::new();
    let errors =
        kubelab_manifests::read("two.yaml", &text, &mut |d| names.push(d.name().to_string()));
    assert_eq!(names, ["good", "good"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 8);
    // The same when the stream as a whole takes the full parser (`...` declines the split).
    let text = format!("{good}...\n---\n{bad}---\n{good}");
    let mut names = Vec::new();
    let errors =
        kubelab_manifests::read("two.yaml", &text, &mut |d| names.push(d.name().to_string()));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(names.len(), 2, "{names:?}");
}
