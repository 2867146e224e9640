//! `OTEL_TRACES_SAMPLER`, with the one thing the SDK's samplers do not do: a B3 parent that
//! left the decision to us ("deferred", no sampling flag) is decided by the root sampler, and
//! B3's debug flag counts as sampled. The SDK's parent-based sampler would read a deferred
//! parent as "not sampled" and record nothing.

use opentelemetry::{
    Context, KeyValue,
    trace::{Link, SpanKind, TraceContextExt, TraceId},
};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::{propagation::remote_decision, telemetry::SamplerKind};

/// The configured sampler, aware of deferred and debug B3 parents.
#[derive(Debug, Clone)]
pub struct ServiceSampler {
    configured: Sampler,
    /// What decides a new trace: the parent-based sampler's root, or the sampler itself.
    root: Sampler,
    parent_based: bool,
}

impl ServiceSampler {
    pub fn new(kind: SamplerKind, ratio: f64) -> Self {
        let (root, parent_based) = match kind {
            SamplerKind::AlwaysOn => (Sampler::AlwaysOn, false),
            SamplerKind::AlwaysOff => (Sampler::AlwaysOff, false),
            SamplerKind::TraceIdRatio => (Sampler::TraceIdRatioBased(ratio), false),
            SamplerKind::ParentBasedAlwaysOn => (Sampler::AlwaysOn, true),
            SamplerKind::ParentBasedAlwaysOff => (Sampler::AlwaysOff, true),
            SamplerKind::ParentBasedTraceIdRatio => (Sampler::TraceIdRatioBased(ratio), true),
        };
        let configured = if parent_based {
            Sampler::ParentBased(Box::new(root.clone()))
        } else {
            root.clone()
        };
        Self {
            configured,
            root,
            parent_based,
        }
    }
}

impl ShouldSample for ServiceSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let remote_parent = parent_context
            .filter(|context| context.span().span_context().is_remote())
            .filter(|_| self.parent_based);
        match remote_parent.map(|context| (context, remote_decision(context))) {
            // Deferred: decide as for a new trace, in the same trace.
            Some((_, None)) => self
                .root
                .should_sample(None, trace_id, name, span_kind, attributes, links),
            // Debug, or sampled: record.
            Some((context, Some(true))) => SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: context.span().span_context().trace_state().clone(),
            },
            _ => self.configured.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    use super::*;

    fn remote(flags: u8) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            TraceFlags::new(flags),
            true,
            TraceState::default(),
        ))
    }

    fn decision(sampler: &ServiceSampler, parent: Option<&Context>) -> SamplingDecision {
        sampler
            .should_sample(parent, TraceId::from(7), "x", &SpanKind::Server, &[], &[])
            .decision
    }

    #[test]
    fn a_deferred_parent_is_decided_by_the_root_sampler() {
        let on = ServiceSampler::new(SamplerKind::ParentBasedAlwaysOn, 1.0);
        let off = ServiceSampler::new(SamplerKind::ParentBasedAlwaysOff, 1.0);
        let deferred = remote(0x02);
        assert_eq!(
            decision(&on, Some(&deferred)),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(decision(&off, Some(&deferred)), SamplingDecision::Drop);
    }

    #[test]
    fn parents_decide_when_they_said_so() {
        let on = ServiceSampler::new(SamplerKind::ParentBasedAlwaysOn, 1.0);
        assert_eq!(decision(&on, Some(&remote(0x00))), SamplingDecision::Drop);
        assert_eq!(
            decision(&on, Some(&remote(0x01))),
            SamplingDecision::RecordAndSample
        );
        // B3 debug, without the sampled bit.
        assert_eq!(
            decision(&on, Some(&remote(0x04))),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(decision(&on, None), SamplingDecision::RecordAndSample);
    }

    #[test]
    fn non_parent_based_samplers_ignore_the_parent() {
        let off = ServiceSampler::new(SamplerKind::AlwaysOff, 1.0);
        assert_eq!(decision(&off, Some(&remote(0x01))), SamplingDecision::Drop);
        let none = ServiceSampler::new(SamplerKind::TraceIdRatio, 0.0);
        assert_eq!(decision(&none, None), SamplingDecision::Drop);
    }
}
