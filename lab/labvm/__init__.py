"""The VM lab behind `lab/nodelab.py`, one concern per module.

- host: the cache folder, running host tools (never with the caller's stdin), writing files, locks
- recipes: the named node images (debian12, debian13, and their -containerd fixtures)
- guest: the files and settings a node image gets on top of Debian's packages
- oci: the busybox and pause container images of the containerd fixture, as an OCI image layout archive
- image: building node images with mmdebstrap and caching them per recipe hash
- access: the lab's SSH key, ssh_config, Ansible inventory and instances.json
- network: the lab's private switch and SSH ports
- machines: the qemu command line, the accelerator probe, finding and stopping a lab's processes
- lab: booting, checking and stopping a lab
- debs: Debian packages fetched from the mirror (signature and checksums checked) as a flat apt repository
- serve: static file servers on the host's loopback for the nodes (apt repositories, release files)
- cli: the command line
"""
