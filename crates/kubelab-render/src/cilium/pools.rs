//! LB-IPAM: one CiliumLoadBalancerIpPool per pool in lab.yaml.

use k8s_crds_cilium::ciliumloadbalancerippools::{
    CiliumLoadBalancerIpPool, CiliumLoadBalancerIpPoolBlocks,
    CiliumLoadBalancerIpPoolServiceSelector,
    CiliumLoadBalancerIpPoolServiceSelectorMatchExpressions,
    CiliumLoadBalancerIpPoolServiceSelectorMatchExpressionsOperator as Op,
    CiliumLoadBalancerIpPoolSpec,
};
use kubelab_spec::model::{LabelSelector, SelectorOperator};
use kubelab_spec::Lab;

pub fn lb_pools(lab: &Lab) -> Vec<CiliumLoadBalancerIpPool> {
    lab.load_balancer
        .pools
        .iter()
        .map(|pool| {
            let blocks = pool
                .blocks
                .iter()
                .map(|b| CiliumLoadBalancerIpPoolBlocks {
                    cidr: b.cidr.map(|c| c.to_string()),
                    start: b.start.map(|a| a.to_string()),
                    stop: b.stop.map(|a| a.to_string()),
                })
                .collect();
            let mut object = CiliumLoadBalancerIpPool::new(
                &pool.name,
                CiliumLoadBalancerIpPoolSpec {
                    blocks: Some(blocks),
                    service_selector: pool.service_selector.as_ref().map(selector),
                    ..CiliumLoadBalancerIpPoolSpec::default()
                },
            );
            object.metadata.labels = Some(crate::k8s::managed_labels());
            object
        })
        .collect()
}

fn selector(s: &LabelSelector) -> CiliumLoadBalancerIpPoolServiceSelector {
    CiliumLoadBalancerIpPoolServiceSelector {
        match_labels: (!s.match_labels.is_empty()).then(|| s.match_labels.clone()),
        match_expressions: (!s.match_expressions.is_empty()).then(|| {
            s.match_expressions
                .iter()
                .map(
                    |e| CiliumLoadBalancerIpPoolServiceSelectorMatchExpressions {
                        key: e.key.clone(),
                        operator: match e.operator {
                            SelectorOperator::In => Op::In,
                            SelectorOperator::NotIn => Op::NotIn,
                            SelectorOperator::Exists => Op::Exists,
                            SelectorOperator::DoesNotExist => Op::DoesNotExist,
                        },
                        values: (!e.values.is_empty()).then(|| e.values.clone()),
                    },
                )
                .collect()
        }),
    }
}
