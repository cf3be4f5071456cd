//! A model of NetworkPolicy (`networking.k8s.io/v1`) semantics: which
//! policies isolate a pod, and whether the union of their rules allows a
//! given flow. Pure and reusable; rules decide what flows matter.
//!
//! Semantics (as the Kubernetes documentation states them):
//! - a pod is isolated for a direction only if some policy selecting it lists
//!   that policy type; `policyTypes` defaults to `Ingress`, plus `Egress` when
//!   the policy has egress rules;
//! - allowed traffic is the union of the rules of the selecting policies;
//! - an empty `from`/`to` means every peer, an empty `ports` every port;
//! - a peer's `podSelector` alone means pods of the policy's namespace, its
//!   `namespaceSelector` alone every pod of the matching namespaces, both
//!   together the matching pods of the matching namespaces;
//! - `ipBlock` covers its CIDR minus `except`; IPv4 and IPv6;
//! - protocol defaults to TCP; `port` is a number (with optional `endPort`)
//!   or the name of a container port of the destination pod.
//!
//! Where real behaviour depends on the network plugin, the model is
//! conservative: ipBlocks never match pods, selectors never match addresses,
//! and an address range is allowed only if every address in it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer};

use crate::response::decimal;
use crate::selector::{LabelSelector, Labels, Operator};

/// Label every namespace carries with its own name (Kubernetes >= 1.21).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Deserialises `null` as the default value (lookups with field masks, and
/// some clients, send `null` for empty fields).
pub fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The fields of a NetworkPolicy the model reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NetworkPolicy {
    #[serde(deserialize_with = "nullable")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "nullable")]
    pub spec: Spec,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Metadata {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    #[serde(deserialize_with = "nullable")]
    pub pod_selector: LabelSelector,
    #[serde(deserialize_with = "nullable")]
    pub policy_types: Vec<PolicyType>,
    #[serde(deserialize_with = "nullable")]
    pub ingress: Vec<PolicyRule>,
    #[serde(deserialize_with = "nullable")]
    pub egress: Vec<PolicyRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PolicyType {
    Ingress,
    Egress,
    #[serde(other)]
    Unknown,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Ingress => "Ingress",
            PolicyType::Egress => "Egress",
            PolicyType::Unknown => "(unknown)",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic direction, seen from the selected pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The name `policyTypes` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ingress rule (`from`) or an egress rule (`to`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PolicyRule {
    #[serde(deserialize_with = "nullable")]
    pub from: Vec<Peer>,
    #[serde(deserialize_with = "nullable")]
    pub to: Vec<Peer>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<PolicyPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Peer {
    pub pod_selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    pub ip_block: Option<IpBlock>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IpBlock {
    #[serde(deserialize_with = "nullable")]
    pub cidr: String,
    #[serde(deserialize_with = "nullable")]
    pub except: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrStringVisitor;

        impl serde::de::Visitor<'_> for IntOrStringVisitor {
            type Value = IntOrString;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a port number or name")
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(n))
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<IntOrString, E> {
                i64::try_from(n)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(text.to_string()))
            }
        }

        deserializer.deserialize_any(IntOrStringVisitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PolicyPort {
    pub protocol: Option<String>,
    pub port: Option<IntOrString>,
    pub end_port: Option<i64>,
}

/// A pod, as far as policies see it: its namespace and labels.
#[derive(Debug, Clone, Copy)]
pub struct Pod<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// The other end of a flow.
#[derive(Debug, Clone, Copy)]
pub enum Remote<'a> {
    /// Every pod of every namespace.
    AllPods,
    /// The pods with these labels in that namespace.
    Pods(Pod<'a>),
    /// Every address of these ranges (nodes, the API server, outside hosts).
    Addresses(&'a [Cidr]),
}

/// One destination port: protocol, number and, when the destination is a
/// pod, the name its container gives that port.
#[derive(Debug, Clone, Copy)]
pub struct PortRef<'a> {
    pub protocol: &'a str,
    pub port: u16,
    pub name: Option<&'a str>,
}

impl fmt::Display for PortRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

impl NetworkPolicy {
    /// `policyTypes`, defaulted as the API server does.
    pub fn types(&self) -> Vec<PolicyType> {
        if !self.spec.policy_types.is_empty() {
            return self.spec.policy_types.clone();
        }
        let mut types = vec![PolicyType::Ingress];
        if self.has_type(Direction::Egress) {
            types.push(PolicyType::Egress);
        }
        types
    }

    pub fn has_type(&self, direction: Direction) -> bool {
        let wanted = match direction {
            Direction::Ingress => PolicyType::Ingress,
            Direction::Egress => PolicyType::Egress,
        };
        if self.spec.policy_types.is_empty() {
            wanted == PolicyType::Ingress || !self.spec.egress.is_empty()
        } else {
            self.spec.policy_types.contains(&wanted)
        }
    }

    /// True if this policy selects `pod` (which must be in the policy's namespace).
    pub fn selects(&self, pod: &Pod) -> bool {
        self.spec.pod_selector.matches(pod.labels)
    }

    /// True if this policy isolates `pod` for `direction`.
    pub fn isolates(&self, pod: &Pod, direction: Direction) -> bool {
        self.selects(pod) && self.has_type(direction)
    }

    pub fn rules(&self, direction: Direction) -> &[PolicyRule] {
        match direction {
            Direction::Ingress => &self.spec.ingress,
            Direction::Egress => &self.spec.egress,
        }
    }
}

impl PolicyRule {
    pub fn peers(&self, direction: Direction) -> &[Peer] {
        match direction {
            Direction::Ingress => &self.from,
            Direction::Egress => &self.to,
        }
    }

    pub fn allows_port(&self, port: &PortRef) -> bool {
        self.ports.is_empty() || self.ports.iter().any(|p| p.matches(port))
    }
}

impl PolicyPort {
    pub fn matches(&self, target: &PortRef) -> bool {
        if self.protocol.as_deref().unwrap_or("TCP") != target.protocol {
            return false;
        }
        match &self.port {
            None => true,
            Some(IntOrString::Int(first)) => {
                let last = self.end_port.unwrap_or(*first);
                (*first..=last).contains(&i64::from(target.port))
            }
            Some(IntOrString::String(name)) => target.name == Some(name.as_str()),
        }
    }
}

/// The label every namespace carries: its name.
struct NamespaceLabels<'a>(&'a str);

impl Labels for NamespaceLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        (key == NAMESPACE_NAME_LABEL).then_some(self.0)
    }
}

/// True only if `selector` matches namespace `name` whatever its other
/// labels: a selector reading any label but the name never does, since
/// `NotIn` or `DoesNotExist` on a label we cannot see would be a guess.
fn surely_selects_namespace(selector: &LabelSelector, name: &str) -> bool {
    selector
        .match_expressions
        .iter()
        .all(|r| r.key == NAMESPACE_NAME_LABEL)
        && selector.matches(&NamespaceLabels(name))
}

/// Whether `selector` matches every namespace: it is empty, or it only asks
/// for the name label, which the API server sets on every namespace.
fn selects_every_namespace(selector: &LabelSelector) -> bool {
    selector.match_labels.is_empty()
        && selector
            .match_expressions
            .iter()
            .all(|r| r.key == NAMESPACE_NAME_LABEL && r.operator == Operator::Exists)
}

impl Peer {
    /// True if this peer covers every pod of `remote` (a pod remote only).
    /// `policy_namespace` is where the policy lives.
    pub fn covers_pods(&self, policy_namespace: &str, remote: &Remote) -> bool {
        if self.ip_block.is_some() {
            return false;
        }
        match (remote, &self.pod_selector, &self.namespace_selector) {
            (_, None, None) => false,
            (Remote::AllPods, pods, Some(namespaces)) => {
                selects_every_namespace(namespaces)
                    && pods.as_ref().is_none_or(LabelSelector::is_empty)
            }
            (Remote::AllPods, Some(_), None) => false,
            (Remote::Pods(pod), pods, namespaces) => {
                let pods_match = pods.as_ref().is_none_or(|s| s.matches(pod.labels));
                let namespace_match = match namespaces {
                    None => pod.namespace == policy_namespace,
                    Some(s) => surely_selects_namespace(s, pod.namespace),
                };
                pods_match && namespace_match
            }
            (Remote::Addresses(_), _, _) => false,
        }
    }
}

/// Whether the policies of `pod`'s namespace let it exchange traffic in
/// `direction` with `remote` on `port`: true when no policy isolates it, or
/// when some rule of an isolating policy allows it. For addresses, every
/// address of every range must be allowed.
pub fn allows(
    policies: &[&NetworkPolicy],
    pod: &Pod,
    direction: Direction,
    remote: &Remote,
    port: &PortRef,
) -> bool {
    allowed_by(
        &isolating(policies, pod, direction),
        pod,
        direction,
        remote,
        port,
    )
}

/// `allows`, given the policies that isolate `pod` for `direction` (from
/// [`isolating`]), for callers that judge many flows of one pod.
pub fn allowed_by(
    isolating: &[&NetworkPolicy],
    pod: &Pod,
    direction: Direction,
    remote: &Remote,
    port: &PortRef,
) -> bool {
    if isolating.is_empty() {
        return true;
    }
    let rules = || rules_for(isolating, direction, port);
    match remote {
        Remote::Addresses(ranges) => {
            let allowed = allowed_addresses(isolating, direction, port);
            ranges.iter().all(|range| allowed.covers(range))
        }
        _ => rules().any(|rule| {
            let peers = rule.peers(direction);
            peers.is_empty() || peers.iter().any(|p| p.covers_pods(pod.namespace, remote))
        }),
    }
}

fn rules_for<'p>(
    isolating: &'p [&'p NetworkPolicy],
    direction: Direction,
    port: &'p PortRef,
) -> impl Iterator<Item = &'p PolicyRule> + 'p {
    isolating
        .iter()
        .flat_map(move |p| p.rules(direction))
        .filter(move |r| r.allows_port(port))
}

/// The addresses the rules of `isolating` (from [`isolating`]) let through
/// for `direction` on `port`: every address when none isolates or a
/// rule names no peer. Built once, it answers for any number of ranges.
#[inline(never)]
pub fn allowed_addresses(
    isolating: &[&NetworkPolicy],
    direction: Direction,
    port: &PortRef,
) -> AddressSet {
    let mut allowed = AddressSet::default();
    let mut rules = rules_for(isolating, direction, port);
    if isolating.is_empty() || rules.any(|rule| rule.peers(direction).is_empty()) {
        for family in [Family::V4, Family::V6] {
            let whole = Cidr::whole(family);
            allowed.ranges.push((family, whole.first, whole.last));
        }
        return allowed;
    }
    for rule in rules_for(isolating, direction, port) {
        for block in rule
            .peers(direction)
            .iter()
            .filter_map(|p| p.ip_block.as_ref())
        {
            allowed.add_block(block);
        }
    }
    allowed
}

/// The policies that isolate `pod` for `direction`, in the order given.
pub fn isolating<'p>(
    policies: &[&'p NetworkPolicy],
    pod: &Pod,
    direction: Direction,
) -> Vec<&'p NetworkPolicy> {
    policies
        .iter()
        .copied()
        .filter(|p| p.isolates(pod, direction))
        .collect()
}

/// True if some policy isolates `pod` for `direction`.
pub fn is_isolated(policies: &[&NetworkPolicy], pod: &Pod, direction: Direction) -> bool {
    policies.iter().any(|p| p.isolates(pod, direction))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// An IPv4 or IPv6 CIDR, as the inclusive range of addresses it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub family: Family,
    pub first: u128,
    pub last: u128,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128).
    /// Host bits are cleared, and IPv4 octets may have leading zeros (read
    /// as decimal), as the API server's parser (`ParseCIDRSloppy`) does.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::read(text, true)
    }

    /// [`Cidr::parse`], for ipBlocks as network plugins read them: an IPv4
    /// octet with a leading zero (`010.0.0.1`), which Go's parsers since 1.17
    /// (Calico, Cilium) refuse and iptables reads as octal, is unreadable.
    pub fn parse_canonical(text: &str) -> Option<Self> {
        Self::read(text, false).ok()
    }

    #[inline(never)]
    fn read(text: &str, sloppy: bool) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let bad = || format!("`{text}` is not an IPv4 or IPv6 CIDR such as 10.0.0.0/8");
        let prefix = |max: u8| -> Result<u8, String> {
            match prefix {
                None => Ok(max),
                // Digits only, as Go's ParseCIDR reads them: `u8::from_str` takes `+32`.
                Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => Err(bad()),
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad),
            }
        };
        if let Some(v4) = address
            .parse::<Ipv4Addr>()
            .ok()
            .or_else(|| sloppy_ipv4(address).filter(|_| sloppy))
        {
            let prefix = prefix(32)?;
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let first = u32::from(v4) & mask;
            return Ok(Self {
                family: Family::V4,
                first: u128::from(first),
                last: u128::from(first | !mask),
                prefix,
            });
        }
        if let Ok(v6) = address.parse::<Ipv6Addr>() {
            let prefix = prefix(128)?;
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            let first = u128::from(v6) & mask;
            return Ok(Self {
                family: Family::V6,
                first,
                last: first | !mask,
                prefix,
            });
        }
        Err(bad())
    }

    /// Every address of `family` (`0.0.0.0/0` or `::/0`).
    pub fn whole(family: Family) -> Self {
        let last = match family {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        };
        Self {
            family,
            first: 0,
            last,
            prefix: 0,
        }
    }

    /// The IPv4 range of an IPv4-mapped IPv6 CIDR within `::ffff:0:0/96`.
    pub fn unmapped(&self) -> Option<Self> {
        const MAPPED: u128 = 0xffff << 32;
        if self.family != Family::V6 || self.prefix < 96 || self.first >> 32 != MAPPED >> 32 {
            return None;
        }
        Some(Self {
            family: Family::V4,
            first: self.first & u128::from(u32::MAX),
            last: self.last & u128::from(u32::MAX),
            prefix: self.prefix - 96,
        })
    }

    pub fn contains(&self, other: &Cidr) -> bool {
        self.family == other.family && self.first <= other.first && other.last <= self.last
    }
}

impl Cidr {
    /// Appends the CIDR as `Display` prints it, without the formatting machinery.
    pub fn push_to(&self, text: &mut String) {
        match self.family {
            Family::V4 => {
                let mut buf = [0; 20];
                let octets = u32::try_from(self.first).unwrap_or(0).to_be_bytes();
                for (i, octet) in octets.into_iter().enumerate() {
                    if i > 0 {
                        text.push('.');
                    }
                    text.push_str(decimal(u64::from(octet), &mut buf));
                }
                text.push('/');
                text.push_str(decimal(u64::from(self.prefix), &mut buf));
            }
            Family::V6 => {
                use fmt::Write;
                let _ = write!(text, "{}/{}", Ipv6Addr::from(self.first), self.prefix);
            }
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(18);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

/// An IPv4 address whose octets have leading zeros (`010.0.0.1`), read as
/// decimal: what the API server accepts beside the canonical form.
fn sloppy_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next().filter(|p| !p.is_empty())?;
        let mut value = 0u32;
        for digit in part.bytes() {
            value = value * 10 + u32::from(digit.is_ascii_digit().then(|| digit - b'0')?);
            if value > 255 {
                return None;
            }
        }
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// A union of address ranges.
#[derive(Debug, Clone, Default)]
pub struct AddressSet {
    ranges: Vec<(Family, u128, u128)>,
}

impl AddressSet {
    /// Adds an ipBlock: its CIDR minus its `except` ranges, in one sweep,
    /// read as the API server reads them. An unparsable CIDR adds nothing,
    /// and so does a block with an unparsable `except`, since dropping the
    /// except would widen the block (the API server refuses both anyway),
    /// or with an octet led by a zero, which network plugins refuse or read
    /// as octal (the API server accepts it); an
    /// IPv4-mapped IPv6 except (`::ffff:10.0.0.1`) cuts its IPv4 address as
    /// well, as Go's parser makes it.
    pub fn add_block(&mut self, block: &IpBlock) {
        let Some(cidr) = Cidr::parse_canonical(&block.cidr) else {
            return;
        };
        self.ranges.reserve(block.except.len() + 1);
        let mut cuts: Vec<(u128, u128)> = Vec::with_capacity(block.except.len());
        for text in &block.except {
            let Some(except) = Cidr::parse_canonical(text) else {
                return;
            };
            for cut in [Some(except), except.unmapped()].into_iter().flatten() {
                if cut.family == cidr.family {
                    cuts.push((cut.first.max(cidr.first), cut.last.min(cidr.last)));
                }
            }
        }
        cuts.retain(|(first, last)| first <= last);
        cuts.sort_unstable();
        let mut next = Some(cidr.first);
        for (first, last) in cuts {
            let Some(from) = next else { break };
            if first > from {
                self.ranges.push((cidr.family, from, first - 1));
            }
            if last >= from {
                next = last.checked_add(1);
            }
        }
        if let Some(from) = next.filter(|from| *from <= cidr.last) {
            self.ranges.push((cidr.family, from, cidr.last));
        }
    }

    /// True if every address of `cidr` is in the set.
    pub fn covers(&self, cidr: &Cidr) -> bool {
        let mut ranges: Vec<(u128, u128)> = self
            .ranges
            .iter()
            .filter(|(family, _, _)| *family == cidr.family)
            .map(|(_, a, b)| (*a, *b))
            .collect();
        ranges.sort_unstable();
        let mut next = cidr.first;
        for (first, last) in ranges {
            if first > next {
                break;
            }
            if last >= next {
                match last.checked_add(1) {
                    Some(n) => next = n,
                    None => return true,
                }
            }
            if next > cidr.last {
                return true;
            }
        }
        next > cidr.last
    }

    /// The set sorted and its overlapping or adjacent ranges joined, for
    /// [`union_covers`].
    pub fn merged(self) -> Self {
        let mut merged: Vec<(Family, u128, u128)> = Vec::with_capacity(self.ranges.len());
        for family in [Family::V4, Family::V6] {
            let mut ranges: Vec<(u128, u128)> = self
                .ranges
                .iter()
                .filter(|r| r.0 == family)
                .map(|r| (r.1, r.2))
                .collect();
            ranges.sort_unstable();
            for (first, last) in ranges {
                match merged.last_mut() {
                    Some((f, _, end))
                        if *f == family && end.checked_add(1).is_none_or(|n| n >= first) =>
                    {
                        *end = (*end).max(last);
                    }
                    _ => merged.push((family, first, last)),
                }
            }
        }
        Self { ranges: merged }
    }

    /// The last address of the range of a [`AddressSet::merged`] set that holds `address`.
    fn reach(&self, family: Family, address: u128) -> Option<u128> {
        let at = self
            .ranges
            .partition_point(|r| (r.0, r.1) <= (family, address));
        let (f, _, last) = self.ranges.get(at.checked_sub(1)?)?;
        (*f == family && *last >= address).then_some(*last)
    }
}

/// True if every address of `cidr` is in the union of `sets` (each
/// [`AddressSet::merged`]), found by binary search, without building the union.
pub fn union_covers(sets: &[&AddressSet], cidr: &Cidr) -> bool {
    let mut next = cidr.first;
    loop {
        let reach = sets.iter().filter_map(|s| s.reach(cidr.family, next)).max();
        match reach {
            Some(last) if last >= cidr.last => return true,
            Some(last) => next = last + 1,
            None => return false,
        }
    }
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// A peer's pod selector, its `In` and `NotIn` values in a set: what
/// decides for many far-end pods whether they are let through.
pub struct PodPeer<'p> {
    labels: &'p BTreeMap<String, String>,
    terms: Vec<(&'p str, u8, BTreeSet<&'p str>)>,
}

impl PodPeer<'_> {
    /// [`LabelSelector::matches`], with values found by binary search.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.terms.iter().all(|(key, operator, values)| {
                let value = labels.get(*key).map(String::as_str);
                let listed = |v: &str| values.contains(v);
                match operator {
                    0 => value.is_some_and(listed),
                    1 => value.is_none_or(|v| !listed(v)),
                    2 => value.is_some(),
                    _ => value.is_none(),
                }
            })
    }
}

/// What [`allowed_by`] reads of `isolating` for pods of `namespace` on
/// `port`, read once for many of them: `None` when every such pod is let
/// through, else the distinct pod selectors of the peers that may match
/// them (a pod is let through if one of them matches its labels), a run
/// of equal ones once, those of one `In` term on one key as one.
pub fn pod_peers<'p>(
    isolating: &[&'p NetworkPolicy],
    policy_namespace: &str,
    direction: Direction,
    port: &PortRef,
    namespace: &str,
) -> Option<Vec<PodPeer<'p>>> {
    let mut peers = Vec::new();
    if isolating.is_empty() {
        return None;
    }
    let rules = isolating.iter().flat_map(|p| p.rules(direction));
    let mut last = None;
    let mut merged: Vec<(&str, usize)> = Vec::new();
    for rule in rules.filter(|r| r.allows_port(port)) {
        let rule_peers = rule.peers(direction);
        if rule_peers.is_empty() {
            return None;
        }
        for peer in rule_peers.iter().filter(|p| p.ip_block.is_none()) {
            let namespace_match = match (&peer.pod_selector, &peer.namespace_selector) {
                (None, None) => false,
                (_, None) => namespace == policy_namespace,
                (_, Some(s)) => surely_selects_namespace(s, namespace),
            };
            let selector = match &peer.pod_selector {
                _ if !namespace_match => continue,
                None => return None,
                Some(selector) if last == Some(selector) => continue,
                Some(selector) => selector,
            };
            last = Some(selector);
            // `key: value` or `key In (values)` alone: merged into an earlier
            // such peer on that key (one of the first 8 keys), one set for all.
            let single = match (
                selector.match_labels.len(),
                selector.match_expressions.as_slice(),
            ) {
                (1, []) => selector
                    .match_labels
                    .iter()
                    .next()
                    .map(|(k, v)| (k, vec![v])),
                (0, [r]) if r.operator == Operator::In => Some((&r.key, r.values.iter().collect())),
                _ => None,
            };
            if let Some((key, values)) = single {
                let found = merged.iter().find(|(k, _)| *k == key.as_str());
                if let Some(term) = found
                    .and_then(|(_, at)| peers.get_mut(*at))
                    .and_then(|p: &mut PodPeer| p.terms.first_mut())
                {
                    term.2.extend(values.into_iter().map(String::as_str));
                    continue;
                }
                if merged.len() < 8 {
                    merged.push((key.as_str(), peers.len()));
                    let values = crate::btree::set(values.into_iter().map(String::as_str));
                    peers.push(PodPeer {
                        labels: &NO_LABELS,
                        terms: vec![(key.as_str(), 0, values)],
                    });
                    continue;
                }
            }
            let terms = selector.match_expressions.iter().map(|r| {
                let operator = match r.operator {
                    Operator::In => 0,
                    Operator::NotIn => 1,
                    Operator::Exists => 2,
                    Operator::DoesNotExist => 3,
                };
                (
                    r.key.as_str(),
                    operator,
                    r.values.iter().map(String::as_str).collect(),
                )
            });
            peers.push(PodPeer {
                labels: &selector.match_labels,
                terms: terms.collect(),
            });
        }
    }
    Some(peers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn policy(json: &str) -> NetworkPolicy {
        serde_json::from_str(json).expect("valid policy")
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("valid cidr")
    }

    const DNS_UDP: PortRef = PortRef {
        protocol: "UDP",
        port: 53,
        name: Some("dns"),
    };
    const DNS_TCP: PortRef = PortRef {
        protocol: "TCP",
        port: 53,
        name: Some("dns-tcp"),
    };
    const HTTPS: PortRef = PortRef {
        protocol: "TCP",
        port: 443,
        name: None,
    };
    const API: PortRef = PortRef {
        protocol: "TCP",
        port: 6443,
        name: None,
    };

    #[rstest]
    #[case::empty_policy_types_ingress_only(r#"{"spec":{}}"#, true, false)]
    #[case::egress_rules_imply_egress(r#"{"spec":{"egress":[{}]}}"#, true, true)]
    #[case::empty_egress_list_is_not_egress(r#"{"spec":{"egress":[]}}"#, true, false)]
    #[case::explicit_egress_only(r#"{"spec":{"policyTypes":["Egress"]}}"#, false, true)]
    #[case::explicit_both(r#"{"spec":{"policyTypes":["Ingress","Egress"]}}"#, true, true)]
    #[case::nulls(
        r#"{"metadata":null,"spec":{"policyTypes":null,"ingress":null,"egress":null}}"#,
        true,
        false
    )]
    fn policy_types(#[case] json: &str, #[case] ingress: bool, #[case] egress: bool) {
        let p = policy(json);
        assert_eq!(p.has_type(Direction::Ingress), ingress);
        assert_eq!(p.has_type(Direction::Egress), egress);
    }

    #[rstest]
    #[case::no_type_restriction_default_allow(r#"[]"#, Direction::Egress, true)]
    #[case::deny_all(
        r#"[{"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"]}}]"#,
        Direction::Egress,
        false
    )]
    #[case::other_pods_only(
        r#"[{"spec":{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"]}}]"#,
        Direction::Egress,
        true
    )]
    #[case::ingress_only_leaves_egress_open(
        r#"[{"spec":{"podSelector":{},"policyTypes":["Ingress"]}}]"#,
        Direction::Egress,
        true
    )]
    #[case::allow_all_egress_rule(
        r#"[{"spec":{"podSelector":{},"policyTypes":["Egress"],"egress":[{}]}}]"#,
        Direction::Egress,
        true
    )]
    #[case::union_of_policies(
        r#"[{"spec":{"podSelector":{},"policyTypes":["Egress"]}},{"spec":{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}},"policyTypes":["Egress"],"egress":[{"ports":[{"port":443}]}]}}]"#,
        Direction::Egress,
        true
    )]
    #[case::rules_ignored_without_type(
        r#"[{"spec":{"podSelector":{},"policyTypes":["Egress"]}},{"spec":{"podSelector":{},"policyTypes":["Ingress"],"egress":[{}]}}]"#,
        Direction::Egress,
        false
    )]
    #[case::not_in_expression_selects(
        r#"[{"spec":{"podSelector":{"matchExpressions":[{"key":"app","operator":"NotIn","values":["web"]}]},"policyTypes":["Egress"]}}]"#,
        Direction::Egress,
        false
    )]
    fn isolation_and_union(
        #[case] json: &str,
        #[case] direction: Direction,
        #[case] allowed: bool,
    ) {
        let owned: Vec<NetworkPolicy> = serde_json::from_str(json).expect("policies");
        let policies: Vec<&NetworkPolicy> = owned.iter().collect();
        let dns = labels(&[("k8s-app", "kube-dns")]);
        let pod = Pod {
            namespace: "kube-system",
            labels: &dns,
        };
        let any = [cidr("0.0.0.0/0")];
        assert_eq!(
            allows(&policies, &pod, direction, &Remote::Addresses(&any), &HTTPS),
            allowed
        );
    }

    #[rstest]
    #[case::all_ports("{}", HTTPS, true)]
    #[case::number(r#"{"ports":[{"port":443}]}"#, HTTPS, true)]
    #[case::number_other(r#"{"ports":[{"port":6443}]}"#, HTTPS, false)]
    #[case::protocol_defaults_to_tcp(r#"{"ports":[{"port":53}]}"#, DNS_UDP, false)]
    #[case::udp(r#"{"ports":[{"port":53,"protocol":"UDP"}]}"#, DNS_UDP, true)]
    #[case::protocol_without_port(r#"{"ports":[{"protocol":"UDP"}]}"#, DNS_UDP, true)]
    #[case::named(r#"{"ports":[{"port":"dns","protocol":"UDP"}]}"#, DNS_UDP, true)]
    #[case::named_wrong_protocol(r#"{"ports":[{"port":"dns"}]}"#, DNS_UDP, false)]
    #[case::named_tcp(r#"{"ports":[{"port":"dns-tcp"}]}"#, DNS_TCP, true)]
    #[case::named_unknown_on_address(r#"{"ports":[{"port":"https"}]}"#, HTTPS, false)]
    #[case::end_port_inside(r#"{"ports":[{"port":443,"endPort":6443}]}"#, API, true)]
    #[case::end_port_lower_edge(r#"{"ports":[{"port":443,"endPort":6443}]}"#, HTTPS, true)]
    #[case::end_port_below(r#"{"ports":[{"port":444,"endPort":6443}]}"#, HTTPS, false)]
    #[case::end_port_above(r#"{"ports":[{"port":443,"endPort":6000}]}"#, API, false)]
    #[case::one_of_many(r#"{"ports":[{"port":80},{"port":6443}]}"#, API, true)]
    fn ports(#[case] rule: &str, #[case] port: PortRef, #[case] expected: bool) {
        let rule: PolicyRule = serde_json::from_str(rule).expect("rule");
        assert_eq!(rule.allows_port(&port), expected);
    }

    #[rstest]
    #[case::empty_namespace_selector_all_pods(r#"{"namespaceSelector":{}}"#, "all", true)]
    #[case::empty_selectors_all_pods(r#"{"namespaceSelector":{},"podSelector":{}}"#, "all", true)]
    #[case::namespace_name_exists_all_pods(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"Exists"}]}}"#,
        "all",
        true
    )]
    #[case::namespace_name_in_not_all(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["a"]}]}}"#,
        "all",
        false
    )]
    #[case::other_label_exists_not_all(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"Exists"}]}}"#,
        "all",
        false
    )]
    #[case::pod_selector_alone_not_all(r#"{"podSelector":{}}"#, "all", false)]
    #[case::labelled_namespaces_not_all(
        r#"{"namespaceSelector":{"matchLabels":{"team":"a"}}}"#,
        "all",
        false
    )]
    #[case::ip_block_never_pods(r#"{"ipBlock":{"cidr":"0.0.0.0/0"}}"#, "all", false)]
    #[case::pod_selector_same_namespace(
        r#"{"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}"#,
        "dns",
        true
    )]
    #[case::pod_selector_other_labels(
        r#"{"podSelector":{"matchLabels":{"app":"web"}}}"#,
        "dns",
        false
    )]
    #[case::pod_selector_is_same_namespace_only(r#"{"podSelector":{}}"#, "dns-elsewhere", false)]
    #[case::namespace_by_name(
        r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}"#,
        "dns",
        true
    )]
    #[case::namespace_by_other_name(
        r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"apps"}}}"#,
        "dns",
        false
    )]
    #[case::namespace_unknown_label(
        r#"{"namespaceSelector":{"matchLabels":{"tier":"system"}}}"#,
        "dns",
        false
    )]
    #[case::namespace_without_unknown_label_not_guessed(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"DoesNotExist"}]}}"#,
        "dns",
        false
    )]
    #[case::namespace_not_in_unknown_label_not_guessed(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"NotIn","values":["a"]}]}}"#,
        "dns",
        false
    )]
    #[case::namespace_name_not_in_others(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["apps"]}]}}"#,
        "dns",
        true
    )]
    #[case::namespace_name_in(
        r#"{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["kube-system"]}]}}"#,
        "dns",
        true
    )]
    fn peers(#[case] peer: &str, #[case] remote: &str, #[case] expected: bool) {
        let peer: Peer = serde_json::from_str(peer).expect("peer");
        let dns = labels(&[("k8s-app", "kube-dns")]);
        let remote = match remote {
            "all" => Remote::AllPods,
            "dns" => Remote::Pods(Pod {
                namespace: "kube-system",
                labels: &dns,
            }),
            _ => Remote::Pods(Pod {
                namespace: "other",
                labels: &dns,
            }),
        };
        assert_eq!(peer.covers_pods("kube-system", &remote), expected);
    }

    #[rstest]
    #[case::host("10.0.0.1", "10.0.0.1/32")]
    #[case::everything("0.0.0.0/0", "0.0.0.0/0")]
    #[case::highest("255.255.255.255/32", "255.255.255.255/32")]
    #[case::network_of_an_address("172.18.9.2/16", "172.18.0.0/16")]
    #[case::v6("fd00::1/128", "fd00::1/128")]
    fn cidrs_print_as_written(#[case] text: &str, #[case] printed: &str) {
        assert_eq!(cidr(text).to_string(), printed);
    }

    #[rstest]
    #[case::whole_v4(&["0.0.0.0/0"], &[], "10.0.0.1/32", true)]
    #[case::host_in_block(&["10.0.0.0/8"], &[], "10.2.3.4", true)]
    #[case::host_outside(&["10.0.0.0/8"], &[], "11.0.0.1", false)]
    #[case::except_excludes(&["0.0.0.0/0"], &["10.0.0.1/32"], "10.0.0.1/32", false)]
    #[case::except_elsewhere(&["0.0.0.0/0"], &["192.168.0.0/16"], "10.0.0.1/32", true)]
    #[case::except_partial_overlap(&["10.0.0.0/8"], &["10.0.0.0/30"], "10.0.0.0/24", false)]
    #[case::two_halves(&["0.0.0.0/1", "128.0.0.0/1"], &[], "0.0.0.0/0", true)]
    #[case::half_is_not_all(&["0.0.0.0/1"], &[], "0.0.0.0/0", false)]
    #[case::adjacent_blocks(&["10.0.0.0/25", "10.0.0.128/25"], &[], "10.0.0.0/24", true)]
    #[case::v6_whole(&["::/0"], &[], "fd00::1", true)]
    #[case::v6_block(&["fd00::/8"], &[], "fd00:10::1/128", true)]
    #[case::v6_except(&["::/0"], &["fd00::/64"], "fd00::1", false)]
    #[case::families_apart(&["0.0.0.0/0"], &[], "fd00::1", false)]
    #[case::v6_block_does_not_cover_v4(&["::/0"], &[], "10.0.0.1", false)]
    #[case::host_bits_cleared(&["10.1.2.3/8"], &[], "10.200.0.1", true)]
    #[case::except_mapped_v6_cuts_v4(&["0.0.0.0/0"], &["::ffff:10.0.0.1/128"], "10.0.0.1/32", false)]
    #[case::except_mapped_v6_elsewhere(&["0.0.0.0/0"], &["::ffff:10.0.0.1/128"], "10.0.0.2", true)]
    #[case::except_mapped_v6_range(&["10.0.0.0/8"], &["::ffff:10.1.0.0/112"], "10.1.2.3", false)]
    #[case::except_leading_zeros_drops_block(&["0.0.0.0/0"], &["010.0.0.1/32"], "8.0.0.1", false)]
    #[case::cidr_leading_zeros_allows_nothing(&["010.000.0.0/16"], &[], "10.0.200.1", false)]
    #[case::cidr_zero_led_octets_allow_nothing(&["172.018.000.002/32"], &[], "172.18.0.2", false)]
    #[case::cidr_leading_zero_other_block_stays(&["172.018.0.2/32", "172.18.0.0/16"], &[], "172.18.0.2", true)]
    #[case::cidr_zero_octets_are_canonical(&["10.0.0.0/8"], &["10.0.0.0/32"], "10.0.0.1", true)]
    #[case::except_unreadable_drops_block(&["0.0.0.0/0"], &["10.0.0.256/32"], "192.168.0.1", false)]
    #[case::except_unreadable_other_block_stays(&["0.0.0.0/0", "192.168.0.0/16"], &["x"], "192.168.0.1", true)]
    #[case::excepts_overlapping(&["10.0.0.0/8"], &["10.0.0.0/16", "10.0.0.0/24", "10.1.0.0/16"], "10.2.0.0/16", true)]
    #[case::excepts_overlapping_cut(&["10.0.0.0/8"], &["10.0.0.0/16", "10.0.0.0/24", "10.1.0.0/16"], "10.0.255.0/24", false)]
    #[case::except_whole_block(&["10.0.0.0/8"], &["10.0.0.0/8"], "10.0.0.1", false)]
    #[case::except_wider_than_block(&["10.0.0.0/8"], &["0.0.0.0/0"], "10.0.0.1", false)]
    #[case::except_outside_block(&["10.0.0.0/8"], &["192.168.0.0/16"], "10.255.255.255", true)]
    #[case::except_at_the_top_v4(&["0.0.0.0/0"], &["255.255.255.255/32"], "255.255.255.254", true)]
    #[case::except_at_the_top_v4_cut(&["0.0.0.0/0"], &["255.255.255.255/32"], "255.255.255.255", false)]
    #[case::except_at_the_top_v6(&["::/0"], &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"], "::1", true)]
    #[case::except_at_the_top_v6_cut(&["::/0"], &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false)]
    #[case::except_at_the_bottom(&["0.0.0.0/0"], &["0.0.0.0/32"], "0.0.0.1", true)]
    fn ip_blocks(
        #[case] cidrs: &[&str],
        #[case] except: &[&str],
        #[case] target: &str,
        #[case] covered: bool,
    ) {
        let mut set = AddressSet::default();
        for (index, block) in cidrs.iter().enumerate() {
            set.add_block(&IpBlock {
                cidr: block.to_string(),
                except: if index == 0 {
                    except.iter().map(|e| e.to_string()).collect()
                } else {
                    vec![]
                },
            });
        }
        assert_eq!(set.covers(&cidr(target)), covered);
    }

    #[rstest]
    #[case::rules_add_up(r#"[{"to":[{"ipBlock":{"cidr":"10.0.0.0/25"}}]},{"to":[{"ipBlock":{"cidr":"10.0.0.128/25"}}]}]"#, "10.0.0.0/24", true)]
    #[case::other_port_ignored(
        r#"[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0"}}],"ports":[{"port":53}]}]"#,
        "10.0.0.1",
        false
    )]
    #[case::no_peers_is_everything(
        r#"[{"to":[{"podSelector":{}}]},{"ports":[{"port":443}]}]"#,
        "fd00::1",
        true
    )]
    #[case::pods_are_no_addresses(r#"[{"to":[{"podSelector":{}}]}]"#, "10.0.0.1", false)]
    fn allowed_addresses_read_every_rule_once(
        #[case] egress: &str,
        #[case] target: &str,
        #[case] covered: bool,
    ) {
        let p = policy(&format!(
            r#"{{"spec":{{"podSelector":{{}},"policyTypes":["Egress"],"egress":{egress}}}}}"#
        ));
        let set = allowed_addresses(&[&p], Direction::Egress, &HTTPS);
        assert_eq!(set.covers(&cidr(target)), covered);
        assert!(allowed_addresses(&[], Direction::Egress, &HTTPS).covers(&cidr("::/0")));
    }

    #[test]
    fn thousands_of_excepts_are_swept_once() {
        let except: Vec<String> = (0..5000u32)
            .map(|i| format!("10.{}.{}.{}/32", i >> 16 & 255, i >> 8 & 255, i & 255))
            .rev()
            .collect();
        let mut set = AddressSet::default();
        set.add_block(&IpBlock {
            cidr: "10.0.0.0/8".to_string(),
            except,
        });
        assert_eq!(set.ranges.len(), 1);
        assert!(!set.covers(&cidr("10.0.19.135")));
        assert!(set.covers(&cidr("10.0.19.136")));
        assert!(set.covers(&cidr("10.128.0.0/9")));
        let mut set = AddressSet::default();
        set.add_block(&IpBlock {
            cidr: "10.0.0.0/8".to_string(),
            except: (0..5000u32)
                .map(|i| format!("10.0.{}.{}/32", i / 128, i % 128 * 2))
                .collect(),
        });
        assert_eq!(set.ranges.len(), 5000);
        assert!(set.covers(&cidr("10.0.0.1")));
        assert!(!set.covers(&cidr("10.0.0.2")));
    }

    #[rstest]
    #[case::one_set_covers("10.0.0.0/8", &["10.0.0.0/8"], &[], true)]
    #[case::hole_in_both("10.0.0.0/8", &["10.0.0.0/8 -10.1.0.0/16"], &["10.2.0.0/16"], false)]
    #[case::hole_filled_by_other("10.0.0.0/8", &["10.0.0.0/8 -10.1.0.0/16"], &["10.1.0.0/16"], true)]
    #[case::alternating_holes(
        "10.0.0.0/30",
        &["10.0.0.0/30 -10.0.0.1/32 -10.0.0.3/32"],
        &["10.0.0.1/32", "10.0.0.3/32"],
        true
    )]
    #[case::adjacent_blocks_merge("10.0.0.0/23", &["10.0.0.0/24", "10.0.1.0/24"], &[], true)]
    #[case::other_family("::/0", &["0.0.0.0/0"], &[], false)]
    #[case::whole_v6("fd00::1", &["::/0"], &["0.0.0.0/0"], true)]
    #[case::no_sets("10.0.0.1", &[], &[], false)]
    fn union_of_sets_covers_as_one_set(
        #[case] target: &str,
        #[case] first: &[&str],
        #[case] second: &[&str],
        #[case] covered: bool,
    ) {
        // Blocks as `cidr -except -except`.
        let set = |blocks: &[&str]| {
            let mut set = AddressSet::default();
            for block in blocks {
                let mut parts = block.split(" -");
                set.add_block(&IpBlock {
                    cidr: parts.next().expect("cidr").to_string(),
                    except: parts.map(str::to_string).collect(),
                });
            }
            set
        };
        let (a, b) = (set(first), set(second));
        let mut one = a.clone();
        one.ranges.extend(b.ranges.iter().copied());
        assert_eq!(one.covers(&cidr(target)), covered);
        let sets = [&a.merged(), &b.merged()];
        let used = if first.is_empty() {
            &sets[..0]
        } else {
            &sets[..]
        };
        assert_eq!(union_covers(used, &cidr(target)), covered);
    }

    #[rstest]
    #[case::match_labels(r#"{"podSelector":{"matchLabels":{"app":"a"}}}"#)]
    #[case::in_values(
        r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["z","a","m"]}]}}"#
    )]
    #[case::not_in_values(
        r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"NotIn","values":["z","b"]}]}}"#
    )]
    #[case::exists(r#"{"podSelector":{"matchExpressions":[{"key":"tier","operator":"Exists"}]}}"#)]
    #[case::does_not_exist(
        r#"{"podSelector":{"matchExpressions":[{"key":"tier","operator":"DoesNotExist"}]}}"#
    )]
    #[case::namespace_by_name(
        r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"app":"b"}}}"#
    )]
    #[case::other_namespace(
        r#"{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"apps"}}}"#
    )]
    #[case::every_namespace(r#"{"namespaceSelector":{}}"#)]
    #[case::namespace_by_other_label(r#"{"namespaceSelector":{"matchLabels":{"team":"a"}}}"#)]
    #[case::ip_block(r#"{"ipBlock":{"cidr":"0.0.0.0/0"}}"#)]
    #[case::single_terms_merged_by_key(
        r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["z"]}]}},{"podSelector":{"matchLabels":{"tier":"y"}}},{"podSelector":{"matchLabels":{"app":"b"}}},{"podSelector":{"matchLabels":{"app":"b","tier":"q"}}}"#
    )]
    #[case::single_term_then_narrower(
        r#"{"podSelector":{"matchLabels":{"app":"z"}}},{"podSelector":{"matchLabels":{"app":"a","tier":"x"}}},{"podSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["c"]}]}}"#
    )]
    fn pod_peers_answer_as_allowed_by(#[case] peer: &str) {
        let p = policy(&format!(
            r#"{{"spec":{{"podSelector":{{}},"ingress":[{{"from":[{peer}]}},{{"from":[{{"podSelector":{{"matchLabels":{{"app":"c"}}}}}}],"ports":[{{"port":80}}]}}]}}}}"#
        ));
        let owner = labels(&[("app", "owner")]);
        let pod = Pod {
            namespace: "kube-system",
            labels: &owner,
        };
        let peers = pod_peers(
            &[&p],
            "kube-system",
            Direction::Ingress,
            &HTTPS,
            "kube-system",
        );
        for far in [
            labels(&[("app", "a")]),
            labels(&[("app", "b"), ("tier", "x")]),
            labels(&[("app", "c")]),
            labels(&[]),
        ] {
            let remote = Remote::Pods(Pod {
                namespace: "kube-system",
                labels: &far,
            });
            let expected = allowed_by(&[&p], &pod, Direction::Ingress, &remote, &HTTPS);
            let answer = peers
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|s| s.matches(&far)));
            assert_eq!(answer, expected, "{far:?}");
        }
        assert!(pod_peers(
            &[],
            "kube-system",
            Direction::Ingress,
            &HTTPS,
            "kube-system"
        )
        .is_none());
    }

    #[rstest]
    #[case::leading_zeros("010.001.000.099", Some([10, 1, 0, 99]))]
    #[case::many_zeros("0000000010.0.0.1", Some([10, 0, 0, 1]))]
    #[case::over_255("10.0.0.256", None)]
    #[case::too_few("10.0.1", None)]
    #[case::too_many("10.0.0.1.2", None)]
    #[case::empty_octet("10..0.1", None)]
    #[case::sign("+10.0.0.1", None)]
    fn reads_ipv4_as_the_api_server(#[case] text: &str, #[case] octets: Option<[u8; 4]>) {
        assert_eq!(sloppy_ipv4(text), octets.map(Ipv4Addr::from));
    }

    #[rstest]
    #[case::mapped_host("::ffff:10.0.0.1/128", Some("10.0.0.1/32"))]
    #[case::mapped_range("::ffff:10.0.0.0/104", Some("10.0.0.0/8"))]
    #[case::mapped_all("::ffff:0.0.0.0/96", Some("0.0.0.0/0"))]
    #[case::wider_than_mapped("::ffff:0.0.0.0/95", None)]
    #[case::plain_v6("fd00::1/128", None)]
    #[case::v4("10.0.0.1/32", None)]
    fn unmaps_ipv4_mapped_cidrs(#[case] text: &str, #[case] v4: Option<&str>) {
        assert_eq!(cidr(text).unmapped().map(|c| c.to_string()).as_deref(), v4);
    }

    #[rstest]
    #[case::v4("10.1.2.3/16", "10.1.0.0/16")]
    #[case::v4_host("10.1.2.3", "10.1.2.3/32")]
    #[case::v4_all("0.0.0.0/0", "0.0.0.0/0")]
    #[case::v6("fd00::1/64", "fd00::/64")]
    #[case::v6_all("::/0", "::/0")]
    fn parses_cidrs(#[case] text: &str, #[case] shown: &str) {
        assert_eq!(cidr(text).to_string(), shown);
    }

    #[rstest]
    #[case::prefix_too_long("10.0.0.0/33")]
    #[case::v6_prefix_too_long("::/129")]
    #[case::not_an_address("example.com/8")]
    #[case::empty("")]
    #[case::negative_prefix("10.0.0.0/-1")]
    #[case::plus_prefix("10.0.0.1/+32")]
    fn refuses_bad_cidrs(#[case] text: &str) {
        assert!(Cidr::parse(text).is_err());
    }

    #[test]
    fn contains_nested_ranges() {
        assert!(cidr("10.0.0.0/8").contains(&cidr("10.1.0.0/16")));
        assert!(!cidr("10.1.0.0/16").contains(&cidr("10.0.0.0/8")));
        assert!(!cidr("0.0.0.0/0").contains(&cidr("::1")));
    }

    #[test]
    fn ip_block_rule_does_not_allow_pods_and_selectors_do_not_allow_addresses() {
        let owned: Vec<NetworkPolicy> = serde_json::from_str(
            r#"[{"spec":{"podSelector":{},"policyTypes":["Ingress","Egress"],
                "ingress":[{"from":[{"ipBlock":{"cidr":"0.0.0.0/0"}}]}],
                "egress":[{"to":[{"namespaceSelector":{}}]}]}}]"#,
        )
        .expect("policies");
        let policies: Vec<&NetworkPolicy> = owned.iter().collect();
        let dns = labels(&[("k8s-app", "kube-dns")]);
        let pod = Pod {
            namespace: "kube-system",
            labels: &dns,
        };
        let any = [cidr("10.0.0.1")];
        assert!(!allows(
            &policies,
            &pod,
            Direction::Ingress,
            &Remote::AllPods,
            &DNS_UDP
        ));
        assert!(!allows(
            &policies,
            &pod,
            Direction::Egress,
            &Remote::Addresses(&any),
            &HTTPS
        ));
        assert!(allows(
            &policies,
            &pod,
            Direction::Egress,
            &Remote::AllPods,
            &HTTPS
        ));
    }

    #[test]
    fn except_applies_to_its_own_block_only() {
        let owned: Vec<NetworkPolicy> = serde_json::from_str(
            r#"[{"spec":{"podSelector":{},"policyTypes":["Egress"],"egress":[
                {"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.1/32"]}}]},
                {"to":[{"ipBlock":{"cidr":"10.0.0.1/32"}}],"ports":[{"port":6443}]}]}}]"#,
        )
        .expect("policies");
        let policies: Vec<&NetworkPolicy> = owned.iter().collect();
        let dns = labels(&[]);
        let pod = Pod {
            namespace: "kube-system",
            labels: &dns,
        };
        let api = [cidr("10.0.0.1")];
        let remote = Remote::Addresses(&api);
        assert!(allows(&policies, &pod, Direction::Egress, &remote, &API));
        assert!(!allows(&policies, &pod, Direction::Egress, &remote, &HTTPS));
    }
}
