//! The Docker engine, through bollard: what the job and the reconcile loop
//! do with containers and images.

pub mod build_cgroup;
pub mod containers;
pub mod images;
pub mod network;
