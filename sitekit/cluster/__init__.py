"""A real Kubernetes control plane per country in the lab (docs/LAB-CLUSTER.md).

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (the simulated kubelets) built from
their Go modules, running inside the country's lab network namespace with certificates from the country's
own key hierarchy, so the stack program and the offline plan can be checked against a real API server.
"""
