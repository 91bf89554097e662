"""lngbench: the parts of bench/run (lsyncd-ng vs Debian's lsyncd, side by
side, against sshd slaves in network namespaces).

  profiles     the two profiles (full, quick), workload names, daemon paths
  cmd          running a command, the progress log
  measure      clock, /proc sampling (CPU, RSS, descendants, inotify watches)
  stats        percentiles, medians, ratios
  trees        writing, listing and comparing trees (spec/tools/tree-diff)
  slaves       the lngbench user, keys, and the slaves (spec/tools/netns-slave)
  env          the run's workspace, processes, tmpfs, configs, records, teardown
  daemon       one daemon under test
  floor        plain rsync to K slaves in parallel (the floors)
  workloads/   one module per workload: latency burst startup scale churn
               restart indexcost spill (issue 15)
  plan         the order of the runs and the time budget
  report       the markdown table; machine describes the machine
  cli          arguments and the main loop (bench/run calls cli.main)
"""
