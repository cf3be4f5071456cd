//! system-networkpolicy (crash 8): NetworkPolicies that cut critical system
//! components (CoreDNS above all) off from the API server or their clients.
//!
//! On every NetworkPolicy change in a protected namespace the rule builds the
//! namespace's policy set before and after the change and evaluates each
//! required flow of each critical component with [`crate::network_policy`].
//! A flow allowed before and cut after is refused; a flow already cut is
//! only warned about, so that repairs are never blocked.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::Deserialize;

use crate::btree;
use crate::exemptions::Exemptions;
use crate::host::{list_items, GetResource, Host, ListResources, OnLookupFailure};
use crate::network_policy::{
    allowed_addresses, allowed_by, is_isolated, isolating, nullable, pod_peers, union_covers,
    AddressSet, Cidr, Direction, Family, IntOrString, NetworkPolicy, Peer, Pod, PolicyRule,
    PortRef, Remote, NAMESPACE_NAME_LABEL,
};
use crate::policy::Rule;
use crate::request::{DecodeError, GroupVersionKind, Objects, Operation, Prefetch, Request};
use crate::response::{decimal, signed, write_str};
use crate::selector::{is_label_segment, label_key_problem, LabelSelector};
use crate::settings::{namespace_names, validate_section, SettingsError, Validate};
use crate::violation::{Verdict, Violation};

pub struct SystemNetworkPolicy;

const NAME: &str = "system-networkpolicy";
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Settings {
    /// NetworkPolicy changes in these namespaces are judged.
    pub protected_namespaces: Vec<String>,
    /// The components whose flows must survive; replaces the defaults when set.
    pub critical_components: Vec<Component>,
    /// The critical component that serves DNS, the peer of `peer: dns` flows.
    pub dns_component: String,
    pub api_server: ApiServer,
    pub on_lookup_failure: OnLookupFailure,
    pub exemptions: Exemptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Component {
    pub name: String,
    pub namespace: String,
    /// Labels that select the component's pods (its Deployment's selector).
    pub pod_labels: BTreeMap<String, String>,
    /// Container ports by name, so policies naming them are understood.
    pub named_ports: Vec<NamedPort>,
    pub flows: Vec<RequiredFlow>,
    /// What breaks in the cluster when a flow is cut.
    pub impact: String,
}

impl Default for Component {
    fn default() -> Self {
        Self {
            name: String::new(),
            namespace: "kube-system".to_string(),
            pod_labels: BTreeMap::new(),
            named_ports: vec![],
            flows: vec![],
            impact: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
    #[serde(default = "tcp")]
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowPort {
    pub port: u16,
    #[serde(default = "tcp")]
    pub protocol: String,
}

fn tcp() -> String {
    "TCP".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PeerKind {
    /// The API server's addresses (`apiServer`).
    ApiServer,
    /// Every pod of every namespace.
    AllPods,
    /// The pods of another critical component (`component`).
    Component,
    /// Fixed address ranges (`cidrs`), as written.
    Cidrs,
    /// Every address the cluster uses (`everyAddress`): `0.0.0.0/0`, `::/0`
    /// or both, as the API server's addresses are IPv4, IPv6 or both.
    EveryAddress,
    /// The DNS component (`dnsComponent`); ports default to 53/UDP and 53/TCP.
    Dns,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequiredFlow {
    pub direction: Direction,
    pub peer: PeerKind,
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// Required except for egress to the API server (`apiServer.ports`) and DNS.
    #[serde(default)]
    pub ports: Vec<FlowPort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct ApiServer {
    /// Its addresses when they are not discovered; every one must be reachable.
    pub cidrs: Vec<String>,
    /// Ports that must be reachable on each address when the endpoints are not discovered.
    pub ports: Vec<u16>,
    /// Read the endpoints of `default/kubernetes` (EndpointSlice, else Endpoints).
    pub discover: bool,
}

impl Default for ApiServer {
    fn default() -> Self {
        Self {
            cidrs: vec!["0.0.0.0/0".to_string()],
            ports: vec![443, 6443],
            discover: true,
        }
    }
}

fn flow(direction: Direction, peer: PeerKind, ports: &[(u16, &str)]) -> RequiredFlow {
    RequiredFlow {
        direction,
        peer,
        component: String::new(),
        cidrs: vec![],
        ports: ports
            .iter()
            .map(|(port, protocol)| FlowPort {
                port: *port,
                protocol: protocol.to_string(),
            })
            .collect(),
    }
}

fn named(name: &str, port: u16, protocol: &str) -> NamedPort {
    NamedPort {
        name: name.to_string(),
        port,
        protocol: protocol.to_string(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        let labels = |value: &str| btree::map([("k8s-app".to_string(), value.to_string())]);
        let coredns = Component {
            name: "coredns".to_string(),
            pod_labels: labels("kube-dns"),
            named_ports: vec![
                named("dns", 53, "UDP"),
                named("dns-tcp", 53, "TCP"),
                named("metrics", 9153, "TCP"),
            ],
            flows: vec![
                flow(Direction::Egress, PeerKind::ApiServer, &[]),
                flow(
                    Direction::Ingress,
                    PeerKind::AllPods,
                    &[(53, "UDP"), (53, "TCP")],
                ),
            ],
            impact: "CoreDNS serves the cluster.local zone from what it watches on the API server \
                     and answers every pod's lookups: without this flow name resolution fails \
                     for the whole cluster."
                .to_string(),
            ..Component::default()
        };
        // Neither the kubelets' addresses nor the one the API server's calls
        // come from (its node's, a tunnel's, a konnectivity agent's) are known.
        let any_address_on_10250 =
            |direction| flow(direction, PeerKind::EveryAddress, &[(10250, "TCP")]);
        let kubelets = any_address_on_10250(Direction::Egress);
        let api_calls = any_address_on_10250(Direction::Ingress);
        let metrics_server = Component {
            name: "metrics-server".to_string(),
            pod_labels: labels("metrics-server"),
            named_ports: vec![named("https", 10250, "TCP")],
            flows: vec![
                flow(Direction::Egress, PeerKind::ApiServer, &[]),
                api_calls,
                kubelets,
            ],
            impact: "metrics-server backs the aggregated API metrics.k8s.io: without this flow \
                     that API is unavailable, HorizontalPodAutoscalers stop scaling, and the \
                     failing API discovery blocks namespace deletion. (The API server calls it \
                     from its node's, a tunnel's or a konnectivity agent's address, and it \
                     reaches the kubelets at their node addresses: none of them is known here.)"
                .to_string(),
            ..Component::default()
        };
        Self {
            protected_namespaces: vec!["kube-system".to_string()],
            critical_components: vec![coredns, metrics_server],
            dns_component: "coredns".to_string(),
            api_server: ApiServer::default(),
            on_lookup_failure: OnLookupFailure::default(),
            exemptions: Exemptions::default(),
        }
    }
}

fn check_protocol(field: &str, protocol: &str) -> Result<(), SettingsError> {
    if PROTOCOLS.contains(&protocol) {
        Ok(())
    } else {
        Err(SettingsError::new(
            field,
            format!("`{protocol}` is not TCP, UDP or SCTP"),
        ))
    }
}

fn check_port(field: &str, port: u16) -> Result<(), SettingsError> {
    if port == 0 {
        Err(SettingsError::new(field, "must be between 1 and 65535"))
    } else {
        Ok(())
    }
}

fn check_cidrs(field: &str, cidrs: &[String]) -> Result<(), SettingsError> {
    if cidrs.is_empty() {
        return Err(SettingsError::new(field, "must name at least one CIDR"));
    }
    for (index, cidr) in cidrs.iter().enumerate() {
        Cidr::parse(cidr).map_err(|e| SettingsError::new(format!("{field}[{index}]"), e))?;
    }
    Ok(())
}

impl Validate for ApiServer {
    fn validate(&self) -> Result<(), SettingsError> {
        check_cidrs("cidrs", &self.cidrs)?;
        if self.ports.is_empty() {
            return Err(SettingsError::new("ports", "must name at least one port"));
        }
        for (index, port) in self.ports.iter().enumerate() {
            check_port(&format!("ports[{index}]"), *port)?;
        }
        Ok(())
    }
}

impl RequiredFlow {
    /// The ports a flow needs: its own, or the defaults of its peer (egress
    /// to the API server: always `api_ports`, see `validate`).
    fn ports(&self, api_ports: &[u16]) -> Vec<(String, u16)> {
        if !self.ports.is_empty() {
            return self
                .ports
                .iter()
                .map(|p| (p.protocol.clone(), p.port))
                .collect();
        }
        match (self.peer, self.direction) {
            (PeerKind::ApiServer, Direction::Egress) => {
                api_ports.iter().map(|p| ("TCP".to_string(), *p)).collect()
            }
            (PeerKind::Dns, _) => vec![("UDP".to_string(), 53), ("TCP".to_string(), 53)],
            _ => vec![],
        }
    }

    fn validate(&self, settings: &Settings) -> Result<(), SettingsError> {
        let components = &settings.critical_components;
        // Egress to the API server is judged on its endpoints' own ports.
        if (self.peer, self.direction) == (PeerKind::ApiServer, Direction::Egress)
            && !self.ports.is_empty()
        {
            return Err(SettingsError::new(
                "ports",
                "is not read for egress to `apiServer`: the ports of the discovered endpoints of default/kubernetes are checked (else apiServer.ports; set those)",
            ));
        }
        for (index, port) in self.ports.iter().enumerate() {
            check_port(&format!("ports[{index}].port"), port.port)?;
            check_protocol(&format!("ports[{index}].protocol"), &port.protocol)?;
        }
        if self.ports(&[1]).is_empty() {
            return Err(SettingsError::new(
                "ports",
                "must name at least one port (only egress to the API server and flows to DNS have default ports)",
            ));
        }
        match self.peer {
            PeerKind::Component => {
                if !components.iter().any(|c| c.name == self.component) {
                    return Err(SettingsError::new(
                        "component",
                        format!(
                            "`{}` is not the name of a critical component",
                            self.component
                        ),
                    ));
                }
            }
            PeerKind::Cidrs => check_cidrs("cidrs", &self.cidrs)?,
            PeerKind::Dns => {
                if !components.iter().any(|c| c.name == settings.dns_component) {
                    return Err(SettingsError::new(
                        "peer",
                        format!(
                            "`dns` needs dnsComponent (`{}`) to be the name of a critical component",
                            settings.dns_component
                        ),
                    ));
                }
            }
            PeerKind::ApiServer | PeerKind::AllPods | PeerKind::EveryAddress => {}
        }
        if self.peer != PeerKind::Component && !self.component.is_empty() {
            return Err(SettingsError::new(
                "component",
                "is only read when peer is `component`",
            ));
        }
        if self.peer != PeerKind::Cidrs && !self.cidrs.is_empty() {
            return Err(SettingsError::new(
                "cidrs",
                "is only read when peer is `cidrs`",
            ));
        }
        Ok(())
    }
}

/// A container port name (IANA_SVC_NAME), as policies can name it.
fn is_port_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    bytes.len() <= 15
        && alnum(bytes.first())
        && alnum(bytes.last())
        && bytes.iter().any(u8::is_ascii_lowercase)
        && bytes.iter().all(|b| alnum(Some(b)) || *b == b'-')
        && !name.contains("--")
}

impl Component {
    fn validate(&self, settings: &Settings) -> Result<(), SettingsError> {
        if self.name.trim().is_empty() {
            return Err(SettingsError::new("name", "must not be empty"));
        }
        // It names the allow policy `allow-<name>-<direction>` of each fix.
        let bytes = self.name.as_bytes();
        let alnum =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if bytes.len() > 48
            || !alnum(bytes.first())
            || !alnum(bytes.last())
            || !bytes.iter().all(|b| alnum(Some(b)) || *b == b'-')
        {
            return Err(SettingsError::new(
                "name",
                format!("`{}` is not a name of at most 48 of a-z, 0-9 and `-`, starting and ending alphanumeric, as the allow policy allow-<name>-<ingress|egress> its fixes propose must be", self.name),
            ));
        }
        if !settings.protected_namespaces.contains(&self.namespace) {
            return Err(SettingsError::new(
                "namespace",
                format!(
                    "`{}` is not in protectedNamespaces, so policies there would never be checked",
                    self.namespace
                ),
            ));
        }
        if self.pod_labels.is_empty() {
            return Err(SettingsError::new(
                "podLabels",
                "must name at least one label that selects the component's pods",
            ));
        }
        // A key or value no label can have selects no pod, and so checks nothing.
        for (key, value) in &self.pod_labels {
            let problem = match label_key_problem(key) {
                Some(problem) => ["`", key, "` is not a label key: ", problem].concat(),
                None if !value.is_empty() && !is_label_segment(value) => [
                    "`",
                    value,
                    "` is not a label value (at most 63 characters of A-Z, a-z, 0-9, `-`, `_` and `.`, starting and ending alphanumeric), so it selects no pod",
                ]
                .concat(),
                None => continue,
            };
            return Err(SettingsError::new(["podLabels.", key].concat(), problem));
        }
        for (index, port) in self.named_ports.iter().enumerate() {
            let field = format!("namedPorts[{index}]");
            if !is_port_name(&port.name) {
                return Err(SettingsError::new(
                    format!("{field}.name"),
                    format!("`{}` is not a port name (at most 15 of a-z, 0-9 and `-`, with a letter, starting and ending alphanumeric, no `--`), so no policy names it", port.name),
                ));
            }
            if self
                .named_ports
                .iter()
                .take(index)
                .any(|p| p.name == port.name)
            {
                return Err(SettingsError::new(
                    format!("{field}.name"),
                    format!("`{}` is used by two named ports", port.name),
                ));
            }
            check_port(&format!("{field}.port"), port.port)?;
            check_protocol(&format!("{field}.protocol"), &port.protocol)?;
        }
        if self.flows.is_empty() {
            return Err(SettingsError::new(
                "flows",
                "must name at least one required flow",
            ));
        }
        for (index, flow) in self.flows.iter().enumerate() {
            flow.validate(settings)
                .map_err(|e| e.within(&format!("flows[{index}]")))?;
        }
        Ok(())
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), SettingsError> {
        namespace_names("protectedNamespaces", &self.protected_namespaces)?;
        if self.protected_namespaces.is_empty() {
            return Err(SettingsError::new(
                "protectedNamespaces",
                "must name at least one namespace",
            ));
        }
        if self.critical_components.is_empty() {
            return Err(SettingsError::new(
                "criticalComponents",
                "must name at least one component, or nothing is checked (leave it out for the defaults, coredns and metrics-server)",
            ));
        }
        let mut names = BTreeSet::new();
        for (index, component) in self.critical_components.iter().enumerate() {
            let section = format!("criticalComponents[{index}]");
            component.validate(self).map_err(|e| e.within(&section))?;
            if !names.insert(component.name.as_str()) {
                return Err(SettingsError::new(
                    format!("{section}.name"),
                    format!("`{}` is used by two components", component.name),
                ));
            }
        }
        validate_section("apiServer", &self.api_server)?;
        validate_section("exemptions", &self.exemptions)
    }
}

/// The API server's addresses and ports, and where they come from.
#[derive(Debug, Clone)]
struct ApiTargets {
    cidrs: Vec<Cidr>,
    ports: Vec<u16>,
}

/// Either lookup's answer, read by one decoder: a list of EndpointSlices
/// (`items`) or the Endpoints object (`subsets`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EndpointsAnswer {
    #[serde(deserialize_with = "nullable")]
    items: Vec<EndpointGroup>,
    #[serde(deserialize_with = "nullable")]
    subsets: Vec<EndpointGroup>,
}

/// An EndpointSlice (`endpoints`, each with `addresses`), one of its
/// endpoints, or an Endpoints subset (`addresses`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EndpointGroup {
    #[serde(deserialize_with = "nullable")]
    endpoints: Vec<EndpointGroup>,
    #[serde(deserialize_with = "nullable")]
    addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    ports: Vec<EndpointPort>,
}

/// An address as an EndpointSlice lists it (`"10.0.0.1"`) or as an
/// Endpoints subset does (`{"ip": "10.0.0.1"}`).
#[derive(Default)]
struct EndpointAddress(String);

impl<'de> Deserialize<'de> for EndpointAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressVisitor;
        impl<'de> serde::de::Visitor<'de> for AddressVisitor {
            type Value = EndpointAddress;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an address or an object with `ip`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(EndpointAddress(text.to_string()))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut ip = String::new();
                while let Some(key) = map.next_key::<crate::text::Text<'de>>()? {
                    if key == "ip" {
                        ip = map.next_value::<Option<String>>()?.unwrap_or_default();
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(EndpointAddress(ip))
            }
        }
        deserializer.deserialize_any(AddressVisitor)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EndpointPort {
    port: Option<u16>,
    protocol: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodItem {
    #[serde(deserialize_with = "nullable")]
    metadata: PodMetadata,
    #[serde(deserialize_with = "nullable")]
    spec: PodSpec,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PodMetadata {
    #[serde(deserialize_with = "nullable")]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodSpec {
    #[serde(deserialize_with = "nullable")]
    host_network: bool,
}

/// Addresses and TCP ports of discovered endpoints.
fn endpoint_targets(groups: Vec<EndpointGroup>) -> (Vec<Cidr>, Vec<u16>) {
    let mut cidrs = Vec::new();
    let mut ports = Vec::new();
    for group in groups {
        let addresses = group.endpoints.iter().flat_map(|e| &e.addresses);
        for address in group.addresses.iter().chain(addresses) {
            cidrs.extend(Cidr::parse(&address.0).ok());
        }
        let tcp = |p: &EndpointPort| p.protocol.as_deref().unwrap_or("TCP") == "TCP";
        ports.extend(group.ports.iter().filter(|p| tcp(p)).filter_map(|p| p.port));
    }
    (cidrs, ports)
}

fn discover_slices(host: &dyn Host) -> Result<(Vec<Cidr>, Vec<u16>), String> {
    let body = ListResources {
        api_version: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        namespace: Some("default"),
        label_selector: Some("kubernetes.io/service-name=kubernetes".to_string()),
        field_selector: None,
        field_masks: Some(vec!["endpoints.addresses", "ports"]),
    }
    .call(host)?;
    let answer: EndpointsAnswer =
        crate::request::from_slice(&body, "the lookup answer").map_err(|e| e.to_string())?;
    Ok(endpoint_targets(answer.items))
}

fn discover_endpoints(host: &dyn Host) -> Result<(Vec<Cidr>, Vec<u16>), String> {
    let body = GetResource {
        api_version: "v1",
        kind: "Endpoints",
        name: "kubernetes",
        namespace: Some("default"),
        disable_cache: false,
        field_masks: Some(vec!["subsets"]),
    }
    .call(host)?;
    let answer: EndpointsAnswer =
        crate::request::from_slice(&body, "the Endpoints default/kubernetes")
            .map_err(|e| e.to_string())?;
    Ok(endpoint_targets(answer.subsets))
}

const POD_SETS: &str = "the flows of each label set of its running pods (its podLabels stood in)";

const API_FALLBACK: &str = "flows to the API server were checked against apiServer.cidrs, \
    and flows to or from every address against its address families";

/// Evaluation state shared by all checks of one request.
struct Context<'a> {
    settings: &'a Settings,
    host: &'a dyn Host,
    /// The existing policies could not be listed: the change is judged alone.
    alone: bool,
    api: RefCell<Option<ApiTargets>>,
    /// Label sets of each component's pod-network pods; `None`: not known.
    pods: RefCell<BTreeMap<String, Option<Rc<Vec<Labels>>>>>,
    warnings: RefCell<Vec<String>>,
    /// Failed lookups for `onLookupFailure`: what, what went unchecked, the error.
    failed: RefCell<Vec<(String, &'static str, String)>>,
}

impl Context<'_> {
    fn configured_api(&self) -> ApiTargets {
        ApiTargets {
            cidrs: self
                .settings
                .api_server
                .cidrs
                .iter()
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
            ports: self.settings.api_server.ports.clone(),
        }
    }

    fn api(&self) -> ApiTargets {
        if let Some(api) = self.api.borrow().as_ref() {
            return api.clone();
        }
        let mut api = self.configured_api();
        if self.settings.api_server.discover && !self.alone {
            let found = discover_slices(self.host)
                .and_then(|found| {
                    if found.0.is_empty() {
                        Err("no EndpointSlice of Service default/kubernetes has an address".into())
                    } else {
                        Ok(found)
                    }
                })
                .or_else(|slice_error| {
                    discover_endpoints(self.host)
                        .map_err(|e| format!("{slice_error}; Endpoints: {e}"))
                });
            match found {
                Ok((cidrs, ports)) if !cidrs.is_empty() => {
                    // Policies see the endpoints' own ports after the Service's
                    // translation; the configured ports stand in only without them.
                    api.cidrs = cidrs;
                    if !ports.is_empty() {
                        api.ports.clear();
                    }
                    for port in ports {
                        if !api.ports.contains(&port) {
                            api.ports.push(port);
                        }
                    }
                }
                Ok(_) => self.warn(format!(
                    "crash-guard/{NAME}: the endpoints of Service default/kubernetes list no address; {API_FALLBACK}"
                )),
                Err(error) => self.warn(format!(
                    "crash-guard/{NAME}: could not read the endpoints of Service default/kubernetes ({error}); {API_FALLBACK}"
                )),
            }
        }
        *self.api.borrow_mut() = Some(api.clone());
        api
    }

    fn warn(&self, warning: String) {
        self.warnings.borrow_mut().push(warning);
    }

    /// The label sets policies are evaluated against for `component`: those
    /// of its running pod-network pods (policies may select them by any of
    /// their labels), or `podLabels` when they cannot be listed (a failed
    /// lookup is kept in `failed`, for `onLookupFailure`). `None` when it
    /// has no such pods: NetworkPolicies never apply to host-network pods.
    fn owner_labels(&self, component: &Component) -> Option<Rc<Vec<Labels>>> {
        let cached = self.pods.borrow().get(&component.name).cloned();
        let known = match cached {
            Some(known) => known,
            None => {
                let listed = if self.alone {
                    None
                } else {
                    match list_pod_labels(self.host, component) {
                        Ok(sets) => Some(Rc::new(sets)),
                        Err(error) => {
                            let pods = ["the Pods of ", &describe_component(component)].concat();
                            self.failed.borrow_mut().push((pods, POD_SETS, error));
                            None
                        }
                    }
                };
                self.pods
                    .borrow_mut()
                    .insert(component.name.clone(), listed.clone());
                listed
            }
        };
        match known {
            None => Some(Rc::new(vec![component.pod_labels.clone()])),
            Some(sets) if sets.is_empty() => None,
            Some(sets) => Some(sets),
        }
    }
}

type Labels = BTreeMap<String, String>;

/// Distinct label sets of the component's pod-network pods, or why the
/// lookup failed.
fn list_pod_labels(host: &dyn Host, component: &Component) -> Result<Vec<Labels>, String> {
    let selector = LabelSelector {
        match_labels: component.pod_labels.clone(),
        match_expressions: vec![],
    };
    let pods = ListResources {
        api_version: "v1",
        kind: "Pod",
        namespace: Some(&component.namespace),
        label_selector: Some(selector.to_query()),
        field_selector: None,
        field_masks: Some(vec!["metadata.labels", "spec.hostNetwork"]),
    }
    .call(host)
    .and_then(|body| list_items::<PodItem>(&body))?;
    let sets = btree::set(
        pods.into_iter()
            .filter(|p| !p.spec.host_network)
            .map(|p| p.metadata.labels),
    );
    Ok(sets.into_iter().collect())
}

/// One port (and address range) of a check, and whether it is let through:
/// for each pod of the owner and each far end (`pairs`), and for all.
struct Unit<'c> {
    protocol: &'c str,
    port: u16,
    cidr: Option<&'c Cidr>,
    pairs: Vec<bool>,
    allowed: bool,
}

impl<'c> Unit<'c> {
    fn new(protocol: &'c str, port: u16, cidr: Option<&'c Cidr>, pairs: Vec<bool>) -> Self {
        let allowed = pairs.iter().all(|allowed| *allowed);
        Self {
            protocol,
            port,
            cidr,
            pairs,
            allowed,
        }
    }

    /// True if some pod let through `before` is not any more: a rollout
    /// half cut already must not hide the cut of its other half.
    fn newly_cut(&self, before: &Unit) -> bool {
        self.pairs
            .iter()
            .zip(&before.pairs)
            .any(|(now, was)| *was && !*now)
    }
}

/// A pod of a check's owner, with the policies that isolate it.
type IsolatedPod<'a, 'p> = (Pod<'a>, Vec<&'p NetworkPolicy>);

/// Owner pods isolated by the same policies: one of them, and the label
/// keys those policies' podSelectors read.
type Group<'a, 'p> = (&'a IsolatedPod<'a, 'p>, BTreeSet<&'p str>);

/// Whether a far end is let through, by group and the labels it reads.
type Answers<'l> = BTreeMap<(usize, Vec<(&'l str, &'l str)>), bool>;

/// The other end of a check, owning what it needs.
enum Target<'s> {
    AllPods,
    /// A component, with the label sets of its running pods (its
    /// `podLabels` when they are not known).
    Component(&'s Component, Rc<Vec<Labels>>),
    Addresses(Vec<Cidr>, AddressPeer),
}

/// Whose addresses a [`Target::Addresses`] holds.
#[derive(Clone, Copy)]
enum AddressPeer {
    ApiServer,
    Cidrs,
    EveryAddress,
}

/// One side of a required flow: the pods of `owner` must be let through for
/// `direction` by the policies of their namespace.
struct Check<'s> {
    owner: &'s Component,
    /// Label sets of the owner's pods (at least one).
    owner_labels: Rc<Vec<Labels>>,
    direction: Direction,
    target: Target<'s>,
    ports: Vec<(String, u16)>,
    /// The destination component, whose container port names apply.
    destination: Option<&'s Component>,
    /// The check is the far side of another component's flow.
    other_end: bool,
}

/// `coredns (pods k8s-app=kube-dns in kube-system)`.
fn describe_component(component: &Component) -> String {
    let mut text = String::with_capacity(64);
    push_component(&mut text, component);
    text
}

fn push_component(text: &mut String, component: &Component) {
    for part in [component.name.as_str(), " (pods "] {
        text.push_str(part);
    }
    for (i, (key, value)) in component.pod_labels.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        for part in [key.as_str(), "=", value] {
            text.push_str(part);
        }
    }
    for part in [" in ", component.namespace.as_str(), ")"] {
        text.push_str(part);
    }
}

fn push_ports(text: &mut String, ports: &[(String, u16)]) {
    for (i, (protocol, port)) in ports.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        push_port(text, *port, protocol);
    }
}

/// `53/UDP`.
fn push_port(text: &mut String, port: u16, protocol: &str) {
    text.push_str(decimal(u64::from(port), &mut [0; 20]));
    text.push('/');
    text.push_str(protocol);
}

fn push_cidrs(text: &mut String, cidrs: &[Cidr]) {
    for (i, cidr) in cidrs.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        cidr.push_to(text);
    }
}

fn opposite(direction: Direction) -> Direction {
    match direction {
        Direction::Ingress => Direction::Egress,
        Direction::Egress => Direction::Ingress,
    }
}

fn towards(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "ingress from",
        Direction::Egress => "egress to",
    }
}

impl Check<'_> {
    /// How the flow reads in messages.
    fn flow(&self) -> String {
        let mut text = String::with_capacity(128);
        text.push_str(towards(self.direction));
        match &self.target {
            Target::Addresses(cidrs, AddressPeer::ApiServer) => {
                text.push_str(" the API server (");
                push_cidrs(&mut text, cidrs);
                text.push(')');
            }
            Target::Addresses(cidrs, AddressPeer::Cidrs) => {
                text.push(' ');
                push_cidrs(&mut text, cidrs);
            }
            Target::Addresses(cidrs, AddressPeer::EveryAddress) => {
                text.push_str(" every address (");
                push_cidrs(&mut text, cidrs);
                text.push(')');
            }
            Target::AllPods => text.push_str(" all pods in all namespaces"),
            Target::Component(peer, _) => {
                text.push(' ');
                push_component(&mut text, peer);
            }
        }
        text.push_str(" on ");
        push_ports(&mut text, &self.ports);
        if self.other_end {
            text.push_str(" (the other end of a required flow)");
        }
        text
    }

    fn unit_label(&self, unit: &Unit) -> String {
        let mut label = String::new();
        push_port(&mut label, unit.port, unit.protocol);
        if let Some(cidr) = unit.cidr {
            label.push_str(if self.direction == Direction::Egress {
                " to "
            } else {
                " from "
            });
            cidr.push_to(&mut label);
        }
        label
    }

    fn pods(&self) -> impl Iterator<Item = Pod<'_>> {
        self.owner_labels.iter().map(|labels| Pod {
            namespace: &self.owner.namespace,
            labels,
        })
    }

    /// Each pod of the owner, with the policies that isolate it.
    fn isolated_pods<'p>(
        &self,
        policies: &[&'p NetworkPolicy],
    ) -> Vec<(Pod<'_>, Vec<&'p NetworkPolicy>)> {
        self.pods()
            .map(|pod| {
                let by = isolating(policies, &pod, self.direction);
                (pod, by)
            })
            .collect()
    }

    /// For each of `pods`, whether its isolating policies allow the flow.
    fn allowed<'r>(
        &'r self,
        pods: &'r [(Pod, Vec<&NetworkPolicy>)],
        remote: &'r Remote,
        port: &'r PortRef,
    ) -> impl Iterator<Item = bool> + 'r {
        pods.iter()
            .map(move |(pod, by)| allowed_by(by, pod, self.direction, remote, port))
    }

    /// Names of the policies that isolate some pod of the owner, in order.
    fn isolators(&self, policies: &[&NetworkPolicy]) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for pod in self.pods() {
            for policy in isolating(policies, &pod, self.direction) {
                if !names.contains(&policy.metadata.name) {
                    names.push(policy.metadata.name.clone());
                }
            }
        }
        names
    }

    /// Each port (and address range) of the check, with whether `policies` allow it.
    fn units(&self, policies: &[&NetworkPolicy]) -> Vec<Unit<'_>> {
        let pods = self.isolated_pods(policies);
        let (groups, group_of) = match self.target {
            Target::Component(..) => self.groups(&pods),
            _ => (vec![], vec![]),
        };
        let mut units = Vec::new();
        for (protocol, port) in &self.ports {
            let name = self.destination.and_then(|d| {
                d.named_ports
                    .iter()
                    .find(|n| n.port == *port && n.protocol == *protocol)
                    .map(|n| n.name.as_str())
            });
            let port_ref = PortRef {
                protocol,
                port: *port,
                name,
            };
            match &self.target {
                Target::Addresses(cidrs, _) => {
                    // Each isolating policy's addresses built once (a blocklist
                    // shared by many pods' lists is swept once), each range
                    // judged once per distinct list against their union.
                    let mut sets: Vec<(&NetworkPolicy, AddressSet)> = Vec::new();
                    let mut rows: Vec<(&[&NetworkPolicy], Vec<bool>)> = Vec::new();
                    let mut row_of = Vec::with_capacity(pods.len());
                    for (_, by) in &pods {
                        let same = |(other, _): &(&[&NetworkPolicy], Vec<bool>)| {
                            other.len() == by.len()
                                && other.iter().zip(by).all(|(a, b)| std::ptr::eq(*a, *b))
                        };
                        if let Some(at) = rows.iter().position(same) {
                            row_of.push(at);
                            continue;
                        }
                        let mut union = Vec::with_capacity(by.len());
                        for policy in by {
                            let at = match sets.iter().position(|(p, _)| std::ptr::eq(*p, *policy))
                            {
                                Some(at) => at,
                                None => {
                                    let set =
                                        allowed_addresses(&[policy], self.direction, &port_ref);
                                    sets.push((policy, set.merged()));
                                    sets.len() - 1
                                }
                            };
                            union.push(at);
                        }
                        let union: Vec<&AddressSet> = union
                            .iter()
                            .filter_map(|at| sets.get(*at).map(|(_, s)| s))
                            .collect();
                        let row = cidrs
                            .iter()
                            .map(|cidr| by.is_empty() || union_covers(&union, cidr))
                            .collect();
                        row_of.push(rows.len());
                        rows.push((by, row));
                    }
                    for (index, cidr) in cidrs.iter().enumerate() {
                        let allowed =
                            |at: &usize| rows.get(*at).and_then(|(_, row)| row.get(index).copied());
                        let pairs = row_of.iter().map(|at| allowed(at).unwrap_or(false));
                        units.push(Unit::new(protocol, *port, Some(cidr), pairs.collect()));
                    }
                }
                Target::AllPods => {
                    let pairs = self.allowed(&pods, &Remote::AllPods, &port_ref).collect();
                    units.push(Unit::new(protocol, *port, None, pairs));
                }
                Target::Component(other, sets) => {
                    // One answer per distinct list of isolating policies and
                    // far-end labels those policies' podSelectors read, from
                    // their peers' selectors read once (values sorted).
                    let mut known: Answers = BTreeMap::new();
                    let peers: Vec<_> = groups
                        .iter()
                        .map(|((pod, by), _)| {
                            pod_peers(
                                by,
                                pod.namespace,
                                self.direction,
                                &port_ref,
                                &other.namespace,
                            )
                        })
                        .collect();
                    let mut pairs = Vec::new();
                    for labels in sets.iter() {
                        for at in &group_of {
                            let (Some((_, keys)), Some(peers)) = (groups.get(*at), peers.get(*at))
                            else {
                                pairs.push(false);
                                continue;
                            };
                            let read = labels
                                .iter()
                                .filter(|(key, _)| keys.contains(key.as_str()))
                                .map(|(key, value)| (key.as_str(), value.as_str()));
                            let allowed =
                                *known.entry((*at, read.collect())).or_insert_with(|| {
                                    peers
                                        .as_ref()
                                        .is_none_or(|peers| peers.iter().any(|p| p.matches(labels)))
                                });
                            pairs.push(allowed);
                        }
                    }
                    units.push(Unit::new(protocol, *port, None, pairs));
                }
            }
        }
        units
    }

    /// The owner's pods grouped by their list of isolating policies (only
    /// it decides what a pod is let through), each group with the label keys
    /// its rules' podSelectors read; and each pod's group.
    fn groups<'a, 'p>(&self, pods: &'a [IsolatedPod<'a, 'p>]) -> (Vec<Group<'a, 'p>>, Vec<usize>) {
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of = Vec::with_capacity(pods.len());
        for entry in pods {
            let by = &entry.1;
            let same = |((_, other), _): &Group| {
                other.len() == by.len() && other.iter().zip(by).all(|(a, b)| std::ptr::eq(*a, *b))
            };
            if let Some(at) = groups.iter().position(same) {
                group_of.push(at);
                continue;
            }
            let mut keys = BTreeSet::new();
            let rules = by.iter().flat_map(|p| p.rules(self.direction));
            for peer in rules.flat_map(|r| r.peers(self.direction)) {
                if let Some(selector) = &peer.pod_selector {
                    keys.extend(selector.match_labels.keys().map(String::as_str));
                    keys.extend(selector.match_expressions.iter().map(|e| e.key.as_str()));
                }
            }
            group_of.push(groups.len());
            groups.push((entry, keys));
        }
        (groups, group_of)
    }

    fn is_isolated(&self, policies: &[&NetworkPolicy]) -> bool {
        self.pods()
            .any(|pod| is_isolated(policies, &pod, self.direction))
    }

    fn direction_key(&self) -> &'static str {
        match self.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// The name of the [`Check::snippet`] policy: `allow-<owner>-<direction>`.
    fn snippet_name(&self) -> String {
        let mut name = Vec::with_capacity(64);
        self.push_snippet_name(&mut name);
        // Only ASCII letters, digits and `-` are pushed.
        String::from_utf8(name).unwrap_or_default()
    }

    fn push_snippet_name(&self, out: &mut Vec<u8>) {
        let start = out.len();
        for part in ["allow-", &self.owner.name, "-", self.direction_key()] {
            for c in part.chars() {
                push_name_char(out, start, c);
            }
        }
        while out.len() > start && out.last() == Some(&b'-') {
            out.pop();
        }
    }

    /// A NetworkPolicy that would allow this check, ready to apply: compact
    /// JSON with keys in sorted order, as `serde_json::Value` prints it. It
    /// isolates the owner for the check's direction, so it holds a rule for
    /// every flow of `checks` the owner needs that way: applied first, it
    /// cuts none of them. One name per owner and direction. The egress
    /// policy of `dns_component` also lets DNS out anywhere: CoreDNS
    /// forwards to upstream resolvers (`forward . /etc/resolv.conf`).
    fn snippet(&self, checks: &[Check], dns_component: &str) -> String {
        let direction = self.direction_key();
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(
            br#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":""#,
        );
        self.push_snippet_name(&mut out);
        out.push(b'"');
        out.extend_from_slice(br#","namespace":"#);
        write_str(&mut out, &self.owner.namespace);
        out.extend_from_slice(br#"},"spec":{"#);
        write_str(&mut out, direction);
        out.extend_from_slice(b":[");
        let mut rules: Vec<Vec<u8>> = Vec::new();
        let same_way =
            |c: &&Check| c.owner.name == self.owner.name && c.direction == self.direction;
        for check in checks.iter().filter(same_way) {
            let rule = check.rule();
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        if rules.is_empty() {
            rules.push(self.rule());
        }
        if self.direction == Direction::Egress && self.owner.name == dns_component {
            let dns = br#"{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}"#;
            if !rules.iter().any(|r| r == dns) {
                rules.push(dns.to_vec());
            }
        }
        for (i, rule) in rules.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(rule);
        }
        out.extend_from_slice(br#"],"podSelector":{"matchLabels":"#);
        write_labels(&mut out, self.owner.pod_labels.iter());
        out.extend_from_slice(br#"},"policyTypes":["#);
        write_str(&mut out, self.direction.as_str());
        out.extend_from_slice(b"]}}");
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The rule of an allow policy that lets this check's flow through.
    fn rule(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(b'{');
        match self.direction {
            Direction::Ingress => {
                out.extend_from_slice(br#""from":"#);
                self.write_peers(&mut out);
                out.extend_from_slice(br#","ports":"#);
                self.write_ports(&mut out);
            }
            Direction::Egress => {
                out.extend_from_slice(br#""ports":"#);
                self.write_ports(&mut out);
                out.extend_from_slice(br#","to":"#);
                self.write_peers(&mut out);
            }
        }
        out.push(b'}');
        out
    }

    fn write_peers(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        match &self.target {
            Target::AllPods => out.extend_from_slice(br#"{"namespaceSelector":{}}"#),
            Target::Component(other, _) => {
                out.extend_from_slice(br#"{"namespaceSelector":{"matchLabels":"#);
                out.push(b'{');
                write_str(out, NAMESPACE_NAME_LABEL);
                out.push(b':');
                write_str(out, &other.namespace);
                out.push(b'}');
                out.extend_from_slice(br#"},"podSelector":{"matchLabels":"#);
                write_labels(out, other.pod_labels.iter());
                out.extend_from_slice(b"}}");
            }
            Target::Addresses(cidrs, _) => {
                for (i, cidr) in cidrs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(br#"{"ipBlock":{"cidr":"#);
                    out.push(b'"');
                    let mut text = String::with_capacity(18);
                    cidr.push_to(&mut text);
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'"');
                    out.extend_from_slice(b"}}");
                }
            }
        }
        out.push(b']');
    }

    fn write_ports(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, (protocol, port)) in self.ports.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"port":"#);
            out.extend_from_slice(decimal(u64::from(*port), &mut [0; 20]).as_bytes());
            out.extend_from_slice(br#","protocol":"#);
            write_str(out, protocol);
            out.push(b'}');
        }
        out.push(b']');
    }
}

/// Appends `c` to the policy name that starts at `start` in `out`: in lower
/// case, anything but ASCII letters, digits and `-` as `-`, while the name is
/// shorter than a DNS label (63). The name never needs escaping.
fn push_name_char(out: &mut Vec<u8>, start: usize, c: char) {
    let mut push = |c: char| {
        if out.len() - start < 63 {
            out.push(if c.is_ascii_alphanumeric() || c == '-' {
                c as u8
            } else {
                b'-'
            });
        }
    };
    if c.is_ascii() {
        push(c.to_ascii_lowercase());
    } else {
        c.to_lowercase().for_each(push);
    }
}

/// A label map as a JSON object (keys in the map's sorted order).
fn write_labels<'l>(out: &mut Vec<u8>, labels: impl Iterator<Item = (&'l String, &'l String)>) {
    out.push(b'{');
    for (i, (key, value)) in labels.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

/// The checks of the flows of `component` (in the evaluated namespace).
/// `isolated` says whether a component is isolated for a direction before
/// or after the change; API server addresses are only looked up when needed.
fn checks<'s>(
    component: &'s Component,
    settings: &'s Settings,
    context: &Context,
    isolated: &dyn Fn(&Component, Direction) -> bool,
) -> Vec<Check<'s>> {
    let all = &settings.critical_components;
    let mut checks = Vec::new();
    let Some(owner_labels) = context.owner_labels(component) else {
        return checks;
    };
    for flow in &component.flows {
        let inbound = flow.direction == Direction::Ingress;
        let own_destination = if inbound { Some(component) } else { None };
        match flow.peer {
            PeerKind::ApiServer | PeerKind::EveryAddress => {
                if !isolated(component, flow.direction) {
                    continue;
                }
                let api = context.api();
                let target = if flow.peer == PeerKind::ApiServer {
                    Target::Addresses(api.cidrs, AddressPeer::ApiServer)
                } else {
                    Target::Addresses(every_address(&api.cidrs), AddressPeer::EveryAddress)
                };
                let ports = flow.ports(&api.ports);
                checks.push(Check {
                    owner: component,
                    owner_labels: owner_labels.clone(),
                    direction: flow.direction,
                    other_end: false,
                    target,
                    ports,
                    destination: own_destination,
                });
            }
            PeerKind::AllPods => {
                let ports = flow.ports(&[]);
                checks.push(Check {
                    owner: component,
                    owner_labels: owner_labels.clone(),
                    direction: flow.direction,
                    other_end: false,
                    target: Target::AllPods,
                    ports,
                    destination: own_destination,
                })
            }
            PeerKind::Cidrs => {
                let ports = flow.ports(&[]);
                let cidrs: Vec<Cidr> = flow
                    .cidrs
                    .iter()
                    .filter_map(|c| Cidr::parse(c).ok())
                    .collect();
                checks.push(Check {
                    owner: component,
                    owner_labels: owner_labels.clone(),
                    direction: flow.direction,
                    other_end: false,
                    target: Target::Addresses(cidrs, AddressPeer::Cidrs),
                    ports,
                    destination: own_destination,
                });
            }
            PeerKind::Component | PeerKind::Dns => {
                let wanted = if flow.peer == PeerKind::Dns {
                    &settings.dns_component
                } else {
                    &flow.component
                };
                let Some(other) = all.iter().find(|c| c.name == *wanted) else {
                    continue;
                };
                let ports = flow.ports(&[]);
                let destination = if inbound { component } else { other };
                let other_labels = context.owner_labels(other);
                let other_sets = other_labels
                    .clone()
                    .unwrap_or_else(|| Rc::new(vec![other.pod_labels.clone()]));
                // Only this namespace's policies are judged, so only here is there an other end.
                let other_labels = other_labels.filter(|_| other.namespace == component.namespace);
                checks.push(Check {
                    owner: component,
                    owner_labels: owner_labels.clone(),
                    direction: flow.direction,
                    other_end: false,
                    target: Target::Component(other, other_sets),
                    ports: ports.clone(),
                    destination: Some(destination),
                });
                if let Some(other_labels) = other_labels {
                    checks.push(Check {
                        owner: other,
                        owner_labels: other_labels,
                        direction: opposite(flow.direction),
                        other_end: other.name != component.name,
                        target: Target::Component(component, owner_labels.clone()),
                        ports,
                        destination: Some(destination),
                    });
                }
            }
        }
    }
    checks
}

/// The /0 of each family the API server has addresses in (IPv4 when none).
fn every_address(api: &[Cidr]) -> Vec<Cidr> {
    let in_family = |family| api.iter().any(|c| c.family == family);
    let v6 = in_family(Family::V6);
    let mut every = Vec::with_capacity(2);
    if !v6 || in_family(Family::V4) {
        every.push(Cidr::whole(Family::V4));
    }
    if v6 {
        every.push(Cidr::whole(Family::V6));
    }
    every
}

fn push_selector(text: &mut String, selector: &LabelSelector) {
    if selector.is_empty() {
        text.push_str("{}");
    } else {
        text.push_str(&selector.to_query());
    }
}

#[inline(never)]
fn push_peer(text: &mut String, peer: &Peer) {
    if let Some(block) = &peer.ip_block {
        for part in ["ipBlock ", block.cidr.as_str()] {
            text.push_str(part);
        }
        for (i, except) in block.except.iter().enumerate() {
            text.push_str(if i == 0 { " except " } else { "," });
            text.push_str(except);
        }
        return;
    }
    let mut separator = "";
    if let Some(s) = &peer.namespace_selector {
        text.push_str("namespaceSelector ");
        push_selector(text, s);
        separator = " ";
    }
    if let Some(s) = &peer.pod_selector {
        for part in [separator, "podSelector "] {
            text.push_str(part);
        }
        push_selector(text, s);
    }
}

/// A rule as people read it: `to ipBlock 0.0.0.0/0 except 10.0.0.1/32 on all ports`.
#[inline(never)]
fn push_rule(text: &mut String, rule: &PolicyRule, direction: Direction) {
    text.push_str(match direction {
        Direction::Ingress => "from ",
        Direction::Egress => "to ",
    });
    let peers = rule.peers(direction);
    if peers.is_empty() {
        text.push_str("anywhere");
    }
    for (i, peer) in peers.iter().enumerate() {
        if i > 0 {
            text.push_str(" or ");
        }
        push_peer(text, peer);
    }
    text.push_str(" on ");
    if rule.ports.is_empty() {
        text.push_str("all ports");
    }
    let mut digits = [0; 20];
    for (i, p) in rule.ports.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        match (&p.port, p.end_port) {
            (None, _) => {
                for part in ["all ", protocol, " ports"] {
                    text.push_str(part);
                }
                continue;
            }
            (Some(IntOrString::Int(n)), end) => {
                text.push_str(signed(*n, &mut digits));
                if let Some(end) = end {
                    text.push('-');
                    text.push_str(signed(end, &mut digits));
                }
            }
            (Some(IntOrString::String(name)), _) => text.push_str(name),
        }
        text.push('/');
        text.push_str(protocol);
    }
}

/// Field and value of the request object that cut the flow.
fn culprit(
    object: Option<&NetworkPolicy>,
    old: Option<&NetworkPolicy>,
    name: &str,
    check: &Check,
    operation: Operation,
) -> (String, String) {
    match object {
        Some(policy)
            if check
                .pods()
                .any(|pod| policy.isolates(&pod, check.direction)) =>
        {
            let rules = policy.rules(check.direction);
            let mut value = String::with_capacity(64);
            value.push('[');
            if rules.is_empty() {
                push_types(&mut value, policy);
                for part in ["] with no ", check.direction.as_str(), " rules"] {
                    value.push_str(part);
                }
                return ("spec.policyTypes".to_string(), value);
            }
            for (i, rule) in rules.iter().enumerate() {
                if i > 0 {
                    value.push_str("; ");
                }
                push_rule(&mut value, rule, check.direction);
            }
            value.push(']');
            let field = match check.direction {
                Direction::Ingress => "spec.ingress",
                Direction::Egress => "spec.egress",
            };
            (field.to_string(), value)
        }
        Some(policy) => {
            // An update that stops selecting the pods, or drops the direction.
            let was = |pod: &Pod| old.is_some_and(|o| o.isolates(pod, check.direction));
            let mut value = String::with_capacity(64);
            if check.pods().any(|pod| was(&pod) && !policy.selects(&pod)) {
                push_selector(&mut value, &policy.spec.pod_selector);
                value.push_str(" (was ");
                if let Some(old) = old {
                    push_selector(&mut value, &old.spec.pod_selector);
                }
                value.push_str(", which selected them)");
                return ("spec.podSelector".to_string(), value);
            }
            if check.pods().any(|pod| was(&pod)) {
                value.push('[');
                push_types(&mut value, policy);
                for part in ["] (", check.direction.as_str(), " dropped)"] {
                    value.push_str(part);
                }
                return ("spec.policyTypes".to_string(), value);
            }
            removed(name, operation)
        }
        None => removed(name, operation),
    }
}

fn push_types(value: &mut String, policy: &NetworkPolicy) {
    for (i, kind) in policy.types().iter().enumerate() {
        if i > 0 {
            value.push_str(", ");
        }
        value.push_str(kind.as_str());
    }
}

/// `metadata.name`: the change removes what allowed the flow.
fn removed(name: &str, operation: Operation) -> (String, String) {
    let how = if operation == Operation::Delete {
        " (deleting it removes what allowed it)"
    } else {
        " (this update removes what allowed it)"
    };
    ("metadata.name".to_string(), [name, how].concat())
}

impl Rule for SystemNetworkPolicy {
    const NAME: &'static str = NAME;
    type Settings = Settings;
    type Object<'a> = NetworkPolicy;

    fn prefetch(kind: &GroupVersionKind, operation: Operation) -> Prefetch {
        if !kind.is("networking.k8s.io", "NetworkPolicy") {
            return Prefetch::NONE;
        }
        match operation {
            Operation::Create => Prefetch::OBJECT,
            Operation::Update => Prefetch::BOTH,
            Operation::Delete => Prefetch {
                object: false,
                old_object: true,
            },
            _ => Prefetch::NONE,
        }
    }

    fn exemptions(settings: &Settings) -> &Exemptions {
        &settings.exemptions
    }

    fn evaluate<'a>(
        request: &Request<'a>,
        objects: Objects<'a, NetworkPolicy>,
        settings: &Settings,
        host: &dyn Host,
    ) -> Result<Verdict, DecodeError> {
        if !request.kind.is("networking.k8s.io", "NetworkPolicy")
            || !matches!(
                request.operation,
                Operation::Create | Operation::Update | Operation::Delete
            )
        {
            return Ok(Verdict::accept());
        }
        let namespace = request.namespace.as_ref();
        if !settings.protected_namespaces.iter().any(|n| n == namespace) {
            return Ok(Verdict::accept());
        }
        let components: Vec<&Component> = settings
            .critical_components
            .iter()
            .filter(|c| c.namespace == namespace)
            .collect();
        if components.is_empty() {
            return Ok(Verdict::accept());
        }
        let new = match request.operation {
            Operation::Delete => None,
            _ => objects.object.decode()?,
        };
        let old = match request.operation {
            Operation::Create => None,
            _ => objects.old_object.decode()?,
        };
        let name = new
            .as_ref()
            .or(old.as_ref())
            .map(|p| p.metadata.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| request.name.to_string());

        let mut verdict = Verdict::accept();
        let listed = ListResources {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            namespace: Some(namespace),
            label_selector: None,
            field_selector: None,
            field_masks: Some(vec!["metadata.name", "spec"]),
        }
        .call(host)
        .and_then(|body| list_items::<NetworkPolicy>(&body));
        let mut failed = Vec::new();
        let (existing, alone) = match listed {
            Ok(mut existing) => {
                if let Some(old) = old {
                    existing.retain(|p| p.metadata.name != name);
                    existing.push(old);
                }
                (existing, false)
            }
            Err(error) => {
                failed.push((
                    ["the NetworkPolicies in namespace ", namespace].concat(),
                    "the effective policy set after this change (only this policy was judged, on its own)",
                    error,
                ));
                (old.into_iter().collect(), true)
            }
        };
        let before: Vec<&NetworkPolicy> = existing.iter().collect();
        let mut after: Vec<&NetworkPolicy> = existing
            .iter()
            .filter(|p| p.metadata.name != name)
            .collect();
        after.extend(new.as_ref());

        let context = Context {
            settings,
            host,
            alone,
            api: RefCell::new(None),
            pods: RefCell::new(BTreeMap::new()),
            warnings: RefCell::new(Vec::new()),
            failed: RefCell::new(failed),
        };
        let mut findings = Vec::new();
        let mut already_cut = Vec::new();
        let isolated = |component: &Component, direction: Direction| {
            context.owner_labels(component).is_some_and(|sets| {
                sets.iter().any(|labels| {
                    let pod = Pod {
                        namespace: &component.namespace,
                        labels,
                    };
                    is_isolated(&before, &pod, direction) || is_isolated(&after, &pod, direction)
                })
            })
        };
        let all_checks: Vec<Check> = components
            .into_iter()
            .flat_map(|component| checks(component, settings, &context, &isolated))
            .collect();
        for check in &all_checks {
            if !check.is_isolated(&before) && !check.is_isolated(&after) {
                continue;
            }
            let units_before = check.units(&before);
            let units_after = check.units(&after);
            let cut = |newly: bool| -> Vec<String> {
                units_after
                    .iter()
                    .zip(&units_before)
                    .filter(|(now, was)| !now.allowed && now.newly_cut(was) == newly)
                    .map(|(now, _)| check.unit_label(now))
                    .collect()
            };
            let newly_cut = cut(true);
            let still_cut = cut(false);
            if newly_cut.is_empty() && still_cut.is_empty() {
                continue;
            }
            if !newly_cut.is_empty() && alone {
                findings.push(Err([
                    "crash-guard/",
                    NAME,
                    ": on its own, ",
                    &request.object_ref(),
                    " cuts ",
                    &describe_component(check.owner),
                    " from ",
                    &check.flow(),
                    " (",
                    &newly_cut.join(", "),
                    "); unless an existing policy allows it, apply first: ",
                    &check.snippet(&all_checks, &settings.dns_component),
                ]
                .concat()));
            } else if !newly_cut.is_empty() {
                findings.push(Ok(cut_violation(
                    check,
                    check.snippet(&all_checks, &settings.dns_component),
                    &newly_cut,
                    &after,
                    (
                        new.as_ref(),
                        before.iter().copied().find(|p| p.metadata.name == name),
                    ),
                    &name,
                    request.operation,
                )));
            } else {
                already_cut.push(
                    [
                        "crash-guard/",
                        NAME,
                        ": ",
                        &describe_component(check.owner),
                        " already has no ",
                        &check.flow(),
                        " (",
                        &still_cut.join(", "),
                        " cut before this change); add this allow policy: ",
                        &check.snippet(&all_checks, &settings.dns_component),
                    ]
                    .concat(),
                );
            }
        }
        for (what, unchecked, error) in context.failed.into_inner() {
            settings
                .on_lookup_failure
                .record(&mut verdict, NAME, &what, unchecked, &error);
        }
        for warning in context.warnings.into_inner() {
            verdict.warning(warning);
        }
        for finding in findings {
            match finding {
                Ok(violation) => verdict.violation(violation),
                Err(warning) => verdict.warning(warning),
            }
        }
        for warning in already_cut {
            verdict.warning(warning);
        }
        Ok(verdict)
    }
}

fn cut_violation(
    check: &Check,
    snippet: String,
    cut: &[String],
    after: &[&NetworkPolicy],
    // The request's object and the version it replaces.
    (object, old): (Option<&NetworkPolicy>, Option<&NetworkPolicy>),
    name: &str,
    operation: Operation,
) -> Violation {
    let namespace = check.owner.namespace.as_str();
    let mut isolators = String::new();
    for (i, name) in check.isolators(after).iter().enumerate() {
        let separator = if i > 0 { ", " } else { "" };
        for part in [separator, "NetworkPolicy ", namespace, "/", name] {
            isolators.push_str(part);
        }
    }
    let (field, value) = culprit(object, old, name, check, operation);
    let (impact, stops) = if check.owner.impact.is_empty() {
        (check.owner.name.as_str(), " stops working.")
    } else {
        (check.owner.impact.as_str(), "")
    };
    let problem = [
        &describe_component(check.owner),
        " needs ",
        &check.flow(),
        ", but after this change it is isolated for ",
        check.direction.as_str(),
        " by ",
        &isolators,
        " and no rule of the namespace's NetworkPolicies allows ",
        &cut.join(", "),
        ". ",
        impact,
        stops,
    ]
    .concat();
    let policy = ["NetworkPolicy ", namespace, "/", name].concat();
    let keep = if check.snippet_name() == name {
        // The allow policy cannot be created first under the name this change takes or removes.
        let what = if operation == Operation::Delete {
            "keep "
        } else {
            "keep the rules of this allow policy in "
        };
        let other_name =
            ", whose name it has (or first create it under another name, then retry): ";
        [what, &policy, other_name].concat()
    } else if operation == Operation::Delete {
        [
            "first create this allow policy (or keep ",
            &policy,
            "), then retry: ",
        ]
        .concat()
    } else {
        "first create this allow policy, then retry: ".to_string()
    };
    let fix = keep + &snippet;
    Violation::new(field, value, problem, fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::{json, Value};

    /// Serves NetworkPolicies, EndpointSlices and Pods from fixed lists.
    struct FakeHost {
        policies: Result<Value, String>,
        slices: Value,
        pods: Value,
        /// Labels the pods of a selector carry besides it, by selector.
        extra_labels: Value,
        calls: RefCell<Vec<String>>,
    }

    impl FakeHost {
        fn new(policies: Value) -> Self {
            Self {
                policies: Ok(policies),
                slices: json!([{"endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"name":"https","port":6443,"protocol":"TCP"}]}]),
                pods: Value::Null,
                extra_labels: Value::Null,
                calls: RefCell::new(vec![]),
            }
        }
    }

    impl Host for FakeHost {
        fn call(&self, _: &str, _: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
            let request: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            let kind = request["kind"].as_str().unwrap_or("").to_string();
            self.calls.borrow_mut().push(kind.clone());
            let items = match kind.as_str() {
                "NetworkPolicy" => self.policies.clone()?,
                "EndpointSlice" => self.slices.clone(),
                "Pod" if self.pods.is_null() => {
                    let selector = request["label_selector"].as_str().unwrap_or("");
                    let mut labels: BTreeMap<&str, &str> = selector
                        .split(',')
                        .filter_map(|t| t.split_once('='))
                        .collect();
                    if let Some(extra) = self.extra_labels[selector].as_object() {
                        for (k, v) in extra {
                            labels.insert(k, v.as_str().unwrap_or(""));
                        }
                    }
                    json!([{ "metadata": { "labels": labels } }])
                }
                "Pod" => self.pods.clone(),
                other => return Err(format!("{other} not served")),
            };
            Ok(json!({ "items": items }).to_string().into_bytes())
        }
    }

    const DENY_ALL: &str = r#"{"metadata":{"name":"deny-all","namespace":"kube-system"},"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}}"#;

    fn allow_dns() -> Value {
        json!({"metadata":{"name":"allow-dns"},"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],
            "ingress":[{"from":[{"namespaceSelector":{}}],"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}]}})
    }

    fn allow_apiserver() -> Value {
        json!({"metadata":{"name":"allow-to-apiserver"},"spec":{"podSelector":{},"policyTypes":["Egress"],
            "egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.1/32"}}],"ports":[{"port":443},{"port":6443}]}]}})
    }

    fn request(operation: &str, namespace: &str, object: &str, old: &str) -> String {
        format!(
            r#"{{"uid":"u","operation":"{operation}","kind":{{"group":"networking.k8s.io","version":"v1","kind":"NetworkPolicy"}},"namespace":"{namespace}","name":"n","object":{object},"oldObject":{old}}}"#
        )
    }

    fn coredns_only() -> Settings {
        let mut settings = Settings::default();
        settings.critical_components.truncate(1);
        settings
    }

    fn judge(json: &str, settings: &Settings, host: &FakeHost) -> Verdict {
        crate::policy::evaluate::<SystemNetworkPolicy>(json, settings, host).expect("decodes")
    }

    #[rstest]
    #[case::talk_deny_all("CREATE", DENY_ALL, "null", json!([]), false)]
    #[case::deny_all_with_allows("CREATE", DENY_ALL, "null", json!([allow_dns(), allow_apiserver()]), true)]
    #[case::deny_all_missing_dns("CREATE", DENY_ALL, "null", json!([allow_apiserver()]), false)]
    #[case::delete_dns_allow("DELETE", "null", &allow_dns().to_string(), json!([allow_dns(), allow_apiserver(), serde_json::from_str::<Value>(DENY_ALL).unwrap_or_default()]), false)]
    #[case::delete_deny_all("DELETE", "null", DENY_ALL, json!([serde_json::from_str::<Value>(DENY_ALL).unwrap_or_default()]), true)]
    #[case::other_pods(
        "CREATE",
        r#"{"metadata":{"name":"web"},"spec":{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"]}}"#,
        "null",
        json!([]),
        true
    )]
    #[case::except_excludes_apiserver(
        "CREATE",
        r#"{"metadata":{"name":"egress"},"spec":{"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.1/32"]}}]}]}}"#,
        "null",
        json!([]),
        false
    )]
    #[case::end_port_range(
        "CREATE",
        r#"{"metadata":{"name":"egress"},"spec":{"podSelector":{},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/24"}}],"ports":[{"port":443,"endPort":6443}]}]}}"#,
        "null",
        json!([]),
        true
    )]
    #[case::named_dns_ports(
        "CREATE",
        r#"{"metadata":{"name":"dns"},"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],"ingress":[{"from":[{"namespaceSelector":{}}],"ports":[{"port":"dns","protocol":"UDP"},{"port":"dns-tcp"}]}]}}"#,
        "null",
        json!([]),
        true
    )]
    #[case::named_port_wrong_protocol(
        "CREATE",
        r#"{"metadata":{"name":"dns"},"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],"ingress":[{"from":[{"namespaceSelector":{}}],"ports":[{"port":"dns"}]}]}}"#,
        "null",
        json!([]),
        false
    )]
    #[case::update_adds_rules_back(
        "UPDATE",
        r#"{"metadata":{"name":"deny-all"},"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"],"ingress":[{"from":[{"namespaceSelector":{}}],"ports":[{"port":53,"protocol":"UDP"},{"port":53}]}],"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.1/32"}}]}]}}"#,
        DENY_ALL,
        json!([serde_json::from_str::<Value>(DENY_ALL).unwrap_or_default()]),
        true
    )]
    fn judges(
        #[case] operation: &str,
        #[case] object: &str,
        #[case] old: &str,
        #[case] existing: Value,
        #[case] accepted: bool,
    ) {
        let host = FakeHost::new(existing);
        let verdict = judge(
            &request(operation, "kube-system", object, old),
            &coredns_only(),
            &host,
        );
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
    }

    #[test]
    fn unprotected_namespace_is_not_looked_at() {
        let host = FakeHost::new(json!([]));
        let verdict = judge(
            &request("CREATE", "apps", DENY_ALL, "null"),
            &Settings::default(),
            &host,
        );
        assert!(verdict.is_accepted());
        assert!(host.calls.borrow().is_empty());
    }

    #[test]
    fn deny_all_message_names_component_flow_policy_and_fix() {
        let host = FakeHost::new(json!([]));
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &coredns_only(),
            &host,
        );
        let message = verdict
            .into_response(NAME, "NetworkPolicy kube-system/deny-all")
            .message
            .unwrap_or_default();
        for needle in [
            "2 violations",
            "spec.policyTypes = [Ingress, Egress] with no Egress rules",
            "coredns (pods k8s-app=kube-dns in kube-system) needs egress to the API server (10.0.0.1/32) on 6443/TCP",
            "isolated for Egress by NetworkPolicy kube-system/deny-all",
            "allows 6443/TCP to 10.0.0.1/32.",
            "ingress from all pods in all namespaces on 53/UDP, 53/TCP",
            r#""name":"allow-coredns-egress""#,
            r#""egress":[{"ports":[{"port":6443,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"10.0.0.1/32"}}]},{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}]"#,
            r#""ingress":[{"from":[{"namespaceSelector":{}}]"#,
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    fn allow_coredns_ingress(ports: Value) -> Value {
        json!({"metadata":{"name":"allow-coredns-ingress"},"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],
            "ingress":[{"from":[{"namespaceSelector":{}}],"ports":ports}]}})
    }

    #[rstest]
    #[case::update_of_the_snippet(
        "UPDATE",
        allow_coredns_ingress(json!([{"port":53,"protocol":"UDP"}])),
        "keep the rules of this allow policy in NetworkPolicy kube-system/allow-coredns-ingress, whose name it has (or first create it under another name, then retry): "
    )]
    #[case::delete_of_the_snippet(
        "DELETE",
        Value::Null,
        "keep NetworkPolicy kube-system/allow-coredns-ingress, whose name it has (or first create it under another name, then retry): "
    )]
    #[case::delete_of_another_allow(
        "DELETE",
        Value::Null,
        "first create this allow policy (or keep NetworkPolicy kube-system/allow-dns), then retry: "
    )]
    fn a_fix_never_asks_to_create_first_the_policy_being_changed(
        #[case] operation: &str,
        #[case] object: Value,
        #[case] fix: &str,
    ) {
        let deny: Value = serde_json::from_str(DENY_ALL).unwrap_or_default();
        let mut old = allow_coredns_ingress(
            json!([{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]),
        );
        if fix.contains("allow-dns") {
            old["metadata"]["name"] = json!("allow-dns");
        }
        let host = FakeHost::new(json!([deny, old, allow_apiserver()]));
        let verdict = judge(
            &request(
                operation,
                "kube-system",
                &object.to_string(),
                &old.to_string(),
            ),
            &coredns_only(),
            &host,
        );
        assert_eq!(verdict.violations.len(), 1, "{verdict:?}");
        let violation = &verdict.violations[0];
        assert!(violation.fix.starts_with(fix), "{}", violation.fix);
        assert!(
            violation.fix.ends_with(r#""policyTypes":["Ingress"]}}"#),
            "{}",
            violation.fix
        );
    }

    #[rstest]
    #[case::pod_selector_retargeted(
        json!({"podSelector":{"matchLabels":{"k8s-app":"node-local-dns"}},"policyTypes":["Ingress"]}),
        "spec.podSelector",
        "k8s-app=node-local-dns (was k8s-app=kube-dns, which selected them)"
    )]
    #[case::pod_selector_emptied_of_types(
        json!({"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Egress"]}),
        "spec.policyTypes",
        "[Egress] (Ingress dropped)"
    )]
    #[case::rules_narrowed(
        json!({"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],"ingress":[{"ports":[{"port":53,"protocol":"UDP"}]}]}),
        "spec.ingress",
        "[from anywhere on 53/UDP]"
    )]
    fn an_update_is_blamed_on_the_field_it_changed(
        #[case] spec: Value,
        #[case] field: &str,
        #[case] value: &str,
    ) {
        let deny: Value = serde_json::from_str(DENY_ALL).unwrap_or_default();
        let mut rules = spec.clone();
        if rules.get("ingress").is_none() {
            rules["ingress"] = allow_dns()["spec"]["ingress"].clone();
        }
        let new = json!({"metadata":{"name":"allow-dns"},"spec":rules});
        let host = FakeHost::new(json!([deny, allow_dns(), allow_apiserver()]));
        let json = request(
            "UPDATE",
            "kube-system",
            &new.to_string(),
            &allow_dns().to_string(),
        );
        let verdict = judge(&json, &coredns_only(), &host);
        assert_eq!(verdict.violations.len(), 1, "{verdict:?}");
        assert_eq!(verdict.violations[0].field, field);
        assert_eq!(verdict.violations[0].value, value);
    }

    #[rstest]
    #[case::coredns_egress(0, Direction::Egress, true)]
    #[case::coredns_ingress(0, Direction::Ingress, false)]
    #[case::metrics_server_egress(1, Direction::Egress, false)]
    fn only_the_dns_components_egress_snippet_lets_dns_out_anywhere(
        #[case] component: usize,
        #[case] direction: Direction,
        #[case] dns_out: bool,
    ) {
        let settings = Settings::default();
        let owner = &settings.critical_components[component];
        let check = Check {
            owner,
            owner_labels: Rc::new(vec![owner.pod_labels.clone()]),
            direction,
            target: Target::Addresses(vec![Cidr::whole(Family::V4)], AddressPeer::ApiServer),
            ports: vec![("TCP".to_string(), 6443)],
            destination: None,
            other_end: false,
        };
        let snippet = check.snippet(std::slice::from_ref(&check), &settings.dns_component);
        let rule = r#"},{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}],"podSelector""#;
        assert_eq!(snippet.contains(rule), dns_out, "{snippet}");
    }

    #[rstest]
    #[case::ingress(Direction::Ingress)]
    #[case::egress(Direction::Egress)]
    fn grouped_pairs_are_those_of_every_pod_pair(#[case] direction: Direction) {
        let settings = Settings::default();
        let owner = &settings.critical_components[0];
        let other = &settings.critical_components[1];
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let owners = Rc::new(vec![
            labels(&[("k8s-app", "kube-dns"), ("hash", "a")]),
            labels(&[("k8s-app", "kube-dns"), ("hash", "b")]),
            labels(&[("k8s-app", "kube-dns"), ("hash", "b"), ("locked", "x")]),
        ]);
        let far = Rc::new(vec![
            labels(&[("app", "m"), ("tier", "web"), ("pod", "1")]),
            labels(&[("app", "m"), ("tier", "web"), ("pod", "2")]),
            labels(&[("app", "m"), ("tier", "db"), ("pod", "3")]),
            labels(&[("pod", "4")]),
        ]);
        let key = if direction == Direction::Ingress {
            "from"
        } else {
            "to"
        };
        let policies: Vec<NetworkPolicy> = serde_json::from_value(json!([
            {"metadata":{"name":"web"},"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"],
                "ingress":[{"from":[{"podSelector":{"matchLabels":{"tier":"web"}}}]}],
                "egress":[{"to":[{"podSelector":{"matchLabels":{"tier":"web"}}}]}]}},
            {"metadata":{"name":"locked"},"spec":{"podSelector":{"matchLabels":{"locked":"x"}},"policyTypes":["Ingress","Egress"],
                key:[{key:[{"podSelector":{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["web"]}]}}]}]}}
        ]))
        .expect("policies");
        let policies: Vec<&NetworkPolicy> = policies.iter().collect();
        let check = Check {
            owner,
            owner_labels: owners.clone(),
            direction,
            target: Target::Component(other, far.clone()),
            ports: vec![("TCP".to_string(), 53)],
            destination: None,
            other_end: false,
        };
        let units = check.units(&policies);
        let port = PortRef {
            protocol: "TCP",
            port: 53,
            name: None,
        };
        let mut every_pair = Vec::new();
        for far_labels in far.iter() {
            let remote = Remote::Pods(Pod {
                namespace: "kube-system",
                labels: far_labels,
            });
            for labels in owners.iter() {
                let pod = Pod {
                    namespace: "kube-system",
                    labels,
                };
                let by = isolating(&policies, &pod, direction);
                every_pair.push(allowed_by(&by, &pod, direction, &remote, &port));
            }
        }
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].pairs, every_pair);
        assert!(every_pair.contains(&true) && every_pair.contains(&false));
    }

    #[test]
    fn already_cut_flows_only_warn() {
        let deny: Value = serde_json::from_str(DENY_ALL).unwrap_or_default();
        let host = FakeHost::new(json!([deny]));
        let verdict = judge(
            &request(
                "CREATE",
                "kube-system",
                &allow_apiserver().to_string(),
                "null",
            ),
            &coredns_only(),
            &host,
        );
        assert!(verdict.is_accepted());
        assert_eq!(verdict.warnings.len(), 1, "{:?}", verdict.warnings);
        assert!(verdict.warnings[0].contains("already has no ingress from all pods"));
    }

    #[test]
    fn absent_or_host_network_components_are_not_protected() {
        let mut host = FakeHost::new(json!([]));
        host.pods = json!([{"spec":{"hostNetwork":true}}]);
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &coredns_only(),
            &host,
        );
        assert!(verdict.is_accepted());
    }

    #[test]
    fn policies_selecting_by_real_pod_labels_are_seen() {
        let mut host = FakeHost::new(json!([]));
        host.pods = json!([
            {"metadata":{"labels":{"k8s-app":"kube-dns","app.kubernetes.io/name":"coredns"}},"spec":null},
            {"metadata":{"labels":{"k8s-app":"kube-dns","app.kubernetes.io/name":"coredns"}},"spec":{"hostNetwork":null}}
        ]);
        let policy = r#"{"metadata":{"name":"lock-coredns"},"spec":{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"coredns"}},"policyTypes":["Egress"]}}"#;
        let verdict = judge(
            &request("CREATE", "kube-system", policy, "null"),
            &coredns_only(),
            &host,
        );
        assert_eq!(verdict.violations.len(), 1, "{verdict:?}");
        assert!(verdict.violations[0]
            .problem
            .contains("isolated for Egress by NetworkPolicy kube-system/lock-coredns"));
    }

    #[test]
    fn lookup_failure_judges_alone_and_warns() {
        let mut host = FakeHost::new(json!([]));
        host.policies = Err("timeout".to_string());
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &coredns_only(),
            &host,
        );
        assert!(verdict.is_accepted());
        assert_eq!(verdict.warnings.len(), 3, "{:?}", verdict.warnings);
        assert!(verdict.warnings[0].contains("could not look up the NetworkPolicies"));
        assert!(verdict.warnings[1].contains("on its own"));
        let deny = Settings {
            on_lookup_failure: OnLookupFailure::Deny,
            ..coredns_only()
        };
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &deny,
            &host,
        );
        assert!(!verdict.is_accepted());
    }

    #[rstest]
    #[case::allow_warns(OnLookupFailure::Allow, true)]
    #[case::deny_refuses(OnLookupFailure::Deny, false)]
    fn unlisted_pods_follow_on_lookup_failure(
        #[case] on_lookup_failure: OnLookupFailure,
        #[case] accepted: bool,
    ) {
        let mut host = FakeHost::new(json!([allow_dns(), allow_apiserver()]));
        host.pods = json!("unreadable");
        let settings = Settings {
            on_lookup_failure,
            ..coredns_only()
        };
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &settings,
            &host,
        );
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        let told = verdict.warnings.iter().any(|w| {
            w.contains(
                "could not look up the Pods of coredns (pods k8s-app=kube-dns in kube-system)",
            )
        }) || verdict
            .violations
            .iter()
            .any(|v| v.field == "lookup" && v.value.contains("the Pods of coredns"));
        assert!(told, "{verdict:?}");
    }

    #[test]
    fn component_to_component_checks_both_ends() {
        let mut settings = coredns_only();
        let mut app_flow = flow(Direction::Egress, PeerKind::Component, &[(53, "UDP")]);
        app_flow.component = "coredns".to_string();
        settings.critical_components.push(Component {
            name: "autoscaler".to_string(),
            pod_labels: BTreeMap::from([("app".to_string(), "autoscaler".to_string())]),
            flows: vec![app_flow],
            ..Component::default()
        });
        // Only CoreDNS ingress from the autoscaler is cut: named by the second end.
        let policy = r#"{"metadata":{"name":"dns-in"},"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Ingress"],"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"apps"}}}]}]}}"#;
        let verdict = judge(
            &request("CREATE", "kube-system", policy, "null"),
            &settings,
            &FakeHost::new(json!([])),
        );
        assert!(!verdict.is_accepted());
        assert!(verdict
            .violations
            .iter()
            .any(|v| v.problem.contains("ingress from autoscaler")));
    }

    /// CoreDNS and an autoscaler (`app: autoscaler`) that needs DNS.
    fn with_autoscaler() -> Settings {
        let mut settings = coredns_only();
        settings.critical_components.push(Component {
            name: "autoscaler".to_string(),
            pod_labels: BTreeMap::from([("app".to_string(), "autoscaler".to_string())]),
            flows: vec![flow(Direction::Egress, PeerKind::Dns, &[])],
            ..Component::default()
        });
        settings
    }

    #[test]
    fn dns_peer_defaults_to_port_53_of_the_dns_component() {
        let settings = with_autoscaler();
        assert_eq!(settings.validate(), Ok(()));
        let policy = r#"{"metadata":{"name":"deny-egress"},"spec":{"podSelector":{"matchLabels":{"app":"autoscaler"}},"policyTypes":["Egress"],"egress":[{"ports":[{"port":53,"protocol":"UDP"}]}]}}"#;
        let verdict = judge(
            &request("CREATE", "kube-system", policy, "null"),
            &settings,
            &FakeHost::new(json!([])),
        );
        assert_eq!(verdict.violations.len(), 1, "{verdict:?}");
        let problem = &verdict.violations[0].problem;
        assert!(
            problem.contains(
                "egress to coredns (pods k8s-app=kube-dns in kube-system) on 53/UDP, 53/TCP"
            ) && problem.contains("allows 53/TCP."),
            "{problem}"
        );
    }

    #[rstest]
    #[case::by_a_label_only_the_running_pods_carry(
        r#"{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"coredns"}}}"#,
        true
    )]
    #[case::by_the_absence_of_a_label_they_carry(
        r#"{"podSelector":{"matchExpressions":[{"key":"k8s-app","operator":"In","values":["kube-dns"]},{"key":"app.kubernetes.io/name","operator":"DoesNotExist"}]}}"#,
        false
    )]
    fn peers_are_matched_against_running_pods(#[case] peer: &str, #[case] accepted: bool) {
        let settings = with_autoscaler();
        let verdict = judge(
            &request(
                "CREATE",
                "kube-system",
                &dns_egress("autoscaler", peer),
                "null",
            ),
            &settings,
            &coredns_labelled_by_name(),
        );
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
    }

    /// CoreDNS pods that also carry `app.kubernetes.io/name: coredns`.
    fn coredns_labelled_by_name() -> FakeHost {
        let mut host = FakeHost::new(json!([]));
        host.extra_labels = json!({"k8s-app=kube-dns": {"app.kubernetes.io/name": "coredns"}});
        host
    }

    /// A policy letting the pods `app: <app>` reach `peer` on 53/UDP and 53/TCP only.
    fn dns_egress(app: &str, peer: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{app}-egress"}},"spec":{{"podSelector":{{"matchLabels":{{"app":"{app}"}}}},"policyTypes":["Egress"],"egress":[{{"to":[{peer}],"ports":[{{"port":53,"protocol":"UDP"}},{{"port":53,"protocol":"TCP"}}]}}]}}}}"#
        )
    }

    #[test]
    fn far_ends_in_another_namespace_are_matched_against_running_pods() {
        let mut settings = coredns_only();
        settings.protected_namespaces.push("monitoring".to_string());
        settings.critical_components.push(Component {
            name: "prometheus".to_string(),
            namespace: "monitoring".to_string(),
            pod_labels: BTreeMap::from([("app".to_string(), "prometheus".to_string())]),
            flows: vec![flow(Direction::Egress, PeerKind::Dns, &[])],
            ..Component::default()
        });
        assert_eq!(settings.validate(), Ok(()));
        let peer = r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchExpressions":[{"key":"k8s-app","operator":"In","values":["kube-dns"]},{"key":"app.kubernetes.io/name","operator":"DoesNotExist"}]}}"#;
        let verdict = judge(
            &request(
                "CREATE",
                "monitoring",
                &dns_egress("prometheus", peer),
                "null",
            ),
            &settings,
            &coredns_labelled_by_name(),
        );
        assert_eq!(verdict.violations.len(), 1, "{verdict:?}");
        assert!(
            verdict.violations[0]
                .problem
                .contains("egress to coredns (pods k8s-app=kube-dns in kube-system)"),
            "{verdict:?}"
        );
    }

    #[rstest]
    #[case::from_the_api_server_address_only(
        r#"[{"from":[{"ipBlock":{"cidr":"10.0.0.1/32"}}],"ports":[{"port":10250}]}]"#,
        false
    )]
    #[case::from_everywhere(r#"[{"ports":[{"port":10250}]}]"#, true)]
    #[case::from_every_address(
        r#"[{"from":[{"ipBlock":{"cidr":"0.0.0.0/0"}}],"ports":[{"port":"https"}]}]"#,
        true
    )]
    #[case::from_every_ipv6_address_on_ipv4(
        r#"[{"from":[{"ipBlock":{"cidr":"::/0"}}],"ports":[{"port":10250}]}]"#,
        false
    )]
    fn metrics_server_ingress_is_from_unknown_addresses(
        #[case] ingress: &str,
        #[case] accepted: bool,
    ) {
        assert_eq!(
            metrics_server_ingress_accepted(ingress, &["10.0.0.1"]),
            accepted
        );
    }

    #[rstest]
    #[case::ipv6_from_every_ipv6_address(&["fd00::1"], &["::/0"], true)]
    #[case::ipv6_from_every_ipv4_address(&["fd00::1"], &["0.0.0.0/0"], false)]
    #[case::ipv6_from_half_the_ipv6_addresses(&["fd00::1"], &["::/1"], false)]
    // Discovery finds one family (default/kubernetes is single-stack); both
    // come from apiServer.cidrs on dual-stack clusters. The logic is the same.
    #[case::both_families_from_both(&["10.0.0.1", "fd00::1"], &["::/0", "0.0.0.0/0"], true)]
    #[case::both_families_from_ipv4_only(&["10.0.0.1", "fd00::1"], &["0.0.0.0/0"], false)]
    #[case::both_families_from_ipv6_only(&["fd00::1", "10.0.0.1"], &["::/0"], false)]
    fn every_address_is_in_the_api_servers_families(
        #[case] api_addresses: &[&str],
        #[case] allowed_from: &[&str],
        #[case] accepted: bool,
    ) {
        let peers: Vec<Value> = allowed_from
            .iter()
            .map(|cidr| json!({"ipBlock":{"cidr":cidr}}))
            .collect();
        let ingress = json!([{"from":peers,"ports":[{"port":10250}]}]).to_string();
        assert_eq!(
            metrics_server_ingress_accepted(&ingress, api_addresses),
            accepted
        );
    }

    #[rstest]
    #[case::none(&[], "0.0.0.0/0")]
    #[case::ipv4(&["10.0.0.1/32", "10.0.0.0/8"], "0.0.0.0/0")]
    #[case::ipv6(&["fd00::1/128"], "::/0")]
    #[case::both(&["fd00::1/128", "10.0.0.1/32"], "0.0.0.0/0 ::/0")]
    fn every_address_is_each_api_family_whole(#[case] api: &[&str], #[case] expected: &str) {
        let api: Vec<Cidr> = api.iter().filter_map(|c| Cidr::parse(c).ok()).collect();
        let every: Vec<String> = every_address(&api).iter().map(Cidr::to_string).collect();
        assert_eq!(every.join(" "), expected);
    }

    #[rstest]
    #[case::both_written_ipv4_only_allowed(&["0.0.0.0/0"], false)]
    #[case::both_written_both_allowed(&["0.0.0.0/0", "::/0"], true)]
    fn cidrs_flows_are_checked_as_written(#[case] allowed_from: &[&str], #[case] accepted: bool) {
        let settings: Settings = serde_json::from_value(json!({"criticalComponents":[{
            "name":"agent","podLabels":{"app":"agent"},
            "flows":[{"direction":"Ingress","peer":"cidrs","cidrs":["0.0.0.0/0","::/0"],"ports":[{"port":9000}]}]}]}))
        .expect("settings");
        let peers: Vec<Value> = allowed_from
            .iter()
            .map(|cidr| json!({"ipBlock":{"cidr":cidr}}))
            .collect();
        let policy = json!({"metadata":{"name":"agent"},"spec":{"podSelector":{},"policyTypes":["Ingress"],
            "ingress":[{"from":peers,"ports":[{"port":9000}]}]}});
        let host = FakeHost::new(json!([]));
        let verdict = judge(
            &request("CREATE", "kube-system", &policy.to_string(), "null"),
            &settings,
            &host,
        );
        assert_eq!(verdict.is_accepted(), accepted, "{verdict:?}");
        assert!(!host
            .calls
            .borrow()
            .iter()
            .any(|kind| kind == "EndpointSlice"));
    }

    #[test]
    fn every_address_is_looked_up_only_when_isolated() {
        let host = FakeHost::new(json!([]));
        let allow_dns = allow_dns().to_string();
        let verdict = judge(
            &request("CREATE", "kube-system", &allow_dns, "null"),
            &Settings::default(),
            &host,
        );
        assert!(verdict.is_accepted(), "{verdict:?}");
        assert_eq!(*host.calls.borrow(), ["NetworkPolicy", "Pod", "Pod"]);
    }

    fn metrics_server_ingress_accepted(ingress: &str, api_addresses: &[&str]) -> bool {
        let policy = format!(
            r#"{{"metadata":{{"name":"ms"}},"spec":{{"podSelector":{{"matchLabels":{{"k8s-app":"metrics-server"}}}},"policyTypes":["Ingress"],"ingress":{ingress}}}}}"#
        );
        let mut host = FakeHost::new(json!([]));
        host.slices = json!([{"endpoints":[{"addresses":api_addresses}],"ports":[{"port":6443}]}]);
        let verdict = judge(
            &request("CREATE", "kube-system", &policy, "null"),
            &Settings::default(),
            &host,
        );
        verdict.is_accepted()
    }

    #[rstest]
    #[case::slices(
        r#"{"items":[{"endpoints":[{"addresses":["10.0.0.1","fd00::1"]},{"addresses":null}],"ports":[{"port":6443},{"port":53,"protocol":"UDP"}]},{"endpoints":null,"ports":null}]}"#,
        true,
        "10.0.0.1/32 fd00::1/128",
        &[6443]
    )]
    #[case::endpoints(
        r#"{"subsets":[{"addresses":[{"ip":"10.0.0.1","nodeName":"a"},{"ip":null}],"ports":[{"port":443,"protocol":"TCP"},{"port":null}]}]}"#,
        false,
        "10.0.0.1/32",
        &[443]
    )]
    #[case::nothing(r#"{"items":null,"subsets":null}"#, true, "", &[])]
    fn endpoint_answers_are_read_in_both_shapes(
        #[case] answer: &str,
        #[case] slices: bool,
        #[case] cidrs: &str,
        #[case] ports: &[u16],
    ) {
        let answer: EndpointsAnswer =
            crate::request::from_slice(answer.as_bytes(), "answer").expect("decodes");
        let groups = if slices { answer.items } else { answer.subsets };
        let (found, found_ports) = endpoint_targets(groups);
        let found: Vec<String> = found.iter().map(Cidr::to_string).collect();
        assert_eq!(found.join(" "), cidrs);
        assert_eq!(found_ports, ports);
    }

    #[rstest]
    #[case::not_an_address(r#"{"items":[{"endpoints":[{"addresses":[7]}]}]}"#)]
    #[case::null_address(r#"{"items":[{"endpoints":[{"addresses":[null]}]}]}"#)]
    fn endpoint_answers_with_wrong_types_are_errors(#[case] answer: &str) {
        assert!(
            crate::request::from_slice::<EndpointsAnswer>(answer.as_bytes(), "answer").is_err()
        );
    }

    #[test]
    fn endpoint_ports_replace_configured_ports() {
        let mut host = FakeHost::new(json!([]));
        host.slices = json!([{"endpoints":[{"addresses":["fd00::1"]}],"ports":[{"port":8443}]}]);
        let verdict = judge(
            &request("CREATE", "kube-system", DENY_ALL, "null"),
            &coredns_only(),
            &host,
        );
        let problem = &verdict.violations[0].problem;
        assert!(
            problem.contains("(fd00::1/128) on 8443/TCP, but")
                && !problem.contains(" 443/TCP")
                && !problem.contains("6443"),
            "{problem}"
        );
    }

    #[rstest]
    #[case::bad_cidr(r#"{"apiServer":{"cidrs":["10.0.0.0/40"]}}"#, "apiServer.cidrs[0]")]
    #[case::no_ports(r#"{"apiServer":{"ports":[]}}"#, "apiServer.ports")]
    #[case::port_zero(r#"{"apiServer":{"ports":[0]}}"#, "apiServer.ports[0]")]
    #[case::port_too_big(r#"{"apiServer":{"ports":[70000]}}"#, "apiServer.ports")]
    #[case::no_namespaces(r#"{"protectedNamespaces":[]}"#, "protectedNamespaces")]
    #[case::namespace_pattern(
        r#"{"protectedNamespaces":["kube-*"]}"#,
        "protectedNamespaces[0]: `kube-*` is not a namespace name"
    )]
    #[case::bad_named_port(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"namedPorts":[{"name":"DNS","port":53}],"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].namedPorts[0].name: `DNS` is not a port name"
    )]
    #[case::plus_in_cidr_prefix(
        r#"{"apiServer":{"cidrs":["10.0.0.1/+32"]}}"#,
        "apiServer.cidrs[0]"
    )]
    #[case::unknown_key(r#"{"protectedNamespace":["x"]}"#, "unknown field")]
    #[case::component_without_name(
        r#"{"criticalComponents":[{"podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].name"
    )]
    #[case::component_outside_protected(
        r#"{"criticalComponents":[{"name":"x","namespace":"apps","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].namespace"
    )]
    #[case::component_without_labels(
        r#"{"criticalComponents":[{"name":"x","flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].podLabels"
    )]
    #[case::no_components(
        r#"{"criticalComponents":[]}"#,
        "criticalComponents: must name at least one"
    )]
    #[case::pod_label_value_with_comma(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"k8s-app":"kube-dns,app=x"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].podLabels.k8s-app: `kube-dns,app=x` is not a label value"
    )]
    #[case::pod_label_bad_key(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a b":"c"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].podLabels.a b: `a b` is not a label key"
    )]
    #[case::flow_without_ports(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Ingress","peer":"allPods"}]}]}"#,
        "criticalComponents[0].flows[0].ports"
    )]
    #[case::bad_protocol(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Ingress","peer":"allPods","ports":[{"port":53,"protocol":"ICMP"}]}]}]}"#,
        "criticalComponents[0].flows[0].ports[0].protocol"
    )]
    #[case::unknown_peer_component(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"component","component":"dns","ports":[{"port":53}]}]}]}"#,
        "criticalComponents[0].flows[0].component"
    )]
    #[case::dns_peer_without_dns_component(
        r#"{"dnsComponent":"kube-dns","criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"dns"}]}]}"#,
        "criticalComponents[0].flows[0].peer"
    )]
    #[case::cidrs_on_other_peer(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer","cidrs":["10.0.0.0/8"]}]}]}"#,
        "criticalComponents[0].flows[0].cidrs"
    )]
    #[case::ports_on_apiserver_egress(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer","ports":[{"port":443}]}]}]}"#,
        "criticalComponents[0].flows[0].ports: is not read for egress to `apiServer`"
    )]
    #[case::every_address_without_ports(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Ingress","peer":"everyAddress"}]}]}"#,
        "criticalComponents[0].flows[0].ports"
    )]
    #[case::cidrs_on_every_address(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Ingress","peer":"everyAddress","cidrs":["::/0"],"ports":[{"port":1}]}]}]}"#,
        "criticalComponents[0].flows[0].cidrs"
    )]
    #[case::unknown_direction(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Both","peer":"apiServer"}]}]}"#,
        "direction"
    )]
    #[case::duplicate_names(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer"}]},{"name":"x","podLabels":{"a":"c"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[1].name"
    )]
    #[case::component_name_not_a_policy_name_part(
        r#"{"criticalComponents":[{"name":"X_Bad","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].name: `X_Bad` is not a name"
    )]
    #[case::component_name_too_long(
        r#"{"criticalComponents":[{"name":"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvw","podLabels":{"a":"b"},"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].name"
    )]
    #[case::duplicate_named_ports(
        r#"{"criticalComponents":[{"name":"x","podLabels":{"a":"b"},"namedPorts":[{"name":"dns","port":53},{"name":"dns","port":54}],"flows":[{"direction":"Egress","peer":"apiServer"}]}]}"#,
        "criticalComponents[0].namedPorts[1].name: `dns` is used by two named ports"
    )]
    #[case::bad_exemption(
        r#"{"exemptions":{"serviceAccounts":["x"]}}"#,
        "exemptions.serviceAccounts[0]"
    )]
    fn refuses_invalid_settings(#[case] json: &str, #[case] expected: &str) {
        let raw = serde_json::value::RawValue::from_string(json.to_string()).expect("json");
        let error = crate::settings::parse::<Settings>(Some(&raw)).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }

    #[rstest]
    #[case::dns("dns", true)]
    #[case::dns_tcp("dns-tcp", true)]
    #[case::fifteen("abcdefghijklmno", true)]
    #[case::sixteen("abcdefghijklmnop", false)]
    #[case::empty("", false)]
    #[case::upper("DNS", false)]
    #[case::digits_only("53", false)]
    #[case::leading_dash("-dns", false)]
    #[case::trailing_dash("dns-", false)]
    #[case::double_dash("dns--tcp", false)]
    #[case::underscore("dns_tcp", false)]
    fn port_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(is_port_name(name), valid);
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    /// The snippet built through `serde_json::Value`: one rule per distinct
    /// flow of `checks` with the owner and direction of `check`.
    fn snippet_via_value(check: &Check, checks: &[Check]) -> String {
        let (direction, peers_key) = match check.direction {
            Direction::Ingress => ("ingress", "from"),
            Direction::Egress => ("egress", "to"),
        };
        let mut rules: Vec<Value> = Vec::new();
        for sibling in checks
            .iter()
            .filter(|c| c.owner.name == check.owner.name && c.direction == check.direction)
        {
            let peers: Vec<Value> = match &sibling.target {
                Target::AllPods => vec![json!({"namespaceSelector": {}})],
                Target::Component(other, _) => vec![json!({
                    "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: other.namespace}},
                    "podSelector": {"matchLabels": other.pod_labels},
                })],
                Target::Addresses(cidrs, _) => cidrs
                    .iter()
                    .map(|c| json!({"ipBlock": {"cidr": c.to_string()}}))
                    .collect(),
            };
            let ports: Vec<Value> = sibling
                .ports
                .iter()
                .map(|(protocol, port)| json!({"protocol": protocol, "port": port}))
                .collect();
            let rule = json!({peers_key: peers, "ports": ports});
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        let name: String = format!("allow-{}-{direction}", check.owner.name)
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(63)
            .collect();
        let policy = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name.trim_end_matches('-'), "namespace": check.owner.namespace},
            "spec": {
                "podSelector": {"matchLabels": check.owner.pod_labels},
                "policyTypes": [check.direction.to_string()],
                direction: rules,
            },
        });
        policy.to_string()
    }

    #[test]
    fn snippets_are_the_json_a_value_would_print() {
        let settings = Settings::default();
        let mut odd = settings.critical_components[0].clone();
        odd.name = "Odd \"name\"/x".to_string();
        odd.namespace = "kube-system".to_string();
        odd.pod_labels
            .insert("a\\b".to_string(), "q\"uote".to_string());
        let other = &settings.critical_components[1];
        let cidrs = vec![
            Cidr::parse("10.0.0.1/32").expect("cidr"),
            Cidr::parse("fd00::/8").expect("cidr"),
        ];
        let targets = || {
            [
                Target::AllPods,
                Target::Component(other, Rc::new(vec![other.pod_labels.clone()])),
                Target::Addresses(cidrs.clone(), AddressPeer::ApiServer),
                Target::Addresses(vec![], AddressPeer::Cidrs),
            ]
        };
        let port_sets = [
            vec![],
            vec![("UDP".to_string(), 53), ("TCP".to_string(), 443)],
        ];
        let mut compared = 0;
        for direction in [Direction::Ingress, Direction::Egress] {
            for ports in &port_sets {
                for target in targets() {
                    let check = Check {
                        owner: &odd,
                        owner_labels: Rc::new(vec![odd.pod_labels.clone()]),
                        direction,
                        target,
                        ports: ports.clone(),
                        destination: None,
                        other_end: false,
                    };
                    let alone = std::slice::from_ref(&check);
                    assert_eq!(
                        check.snippet(alone, "coredns"),
                        snippet_via_value(&check, alone)
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 16);
    }

    #[test]
    fn a_snippet_holds_every_flow_of_its_owner_and_direction_once() {
        let settings = Settings::default();
        let coredns = &settings.critical_components[0];
        let metrics = &settings.critical_components[1];
        let api = vec![Cidr::parse("10.0.0.1/32").expect("cidr")];
        let check = |owner, direction, target| Check {
            owner,
            owner_labels: Rc::new(vec![]),
            direction,
            target,
            ports: vec![("TCP".to_string(), 443)],
            destination: None,
            other_end: false,
        };
        let checks = [
            check(
                metrics,
                Direction::Egress,
                Target::Addresses(api.clone(), AddressPeer::ApiServer),
            ),
            check(metrics, Direction::Ingress, Target::AllPods),
            check(coredns, Direction::Egress, Target::AllPods),
            check(
                metrics,
                Direction::Egress,
                Target::Addresses(vec![Cidr::whole(Family::V4)], AddressPeer::EveryAddress),
            ),
            check(
                metrics,
                Direction::Egress,
                Target::Addresses(api, AddressPeer::ApiServer),
            ),
        ];
        let snippet = checks[0].snippet(&checks, "coredns");
        assert_eq!(snippet, snippet_via_value(&checks[0], &checks));
        assert_eq!(
            snippet,
            checks[3].snippet(&checks, "coredns"),
            "one policy per owner and direction"
        );
        assert!(
            snippet.contains(r#""name":"allow-metrics-server-egress""#),
            "{snippet}"
        );
        assert!(snippet.contains(
            r#""egress":[{"ports":[{"port":443,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"10.0.0.1/32"}}]},{"ports":[{"port":443,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"0.0.0.0/0"}}]}],"podSelector""#
        ), "{snippet}");
    }
}
