/*
  chrony-ptpkvm - tests of ptpkvm-doctor's PHC checks on the fake device

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Runs the whole doctor (DOC_Main) with phc_reader's fake device backend
  (tests/unit/fake_phc.[ch]) on a healthy guest fixture, then changes one
  thing per test: the clocksource-dependent PRECISE failure, a host that
  cannot answer, a device that is not a PHC, that vanished or cannot be
  opened, offsets and delays that call for WARN or FAIL, spikes that must
  not, several PHCs.  Checks statuses, messages and metrics against the
  values the fake was scripted with.  With an argument, writes the
  healthy run's JSON report to that file for the schema checker.
  Prints "N passed, N failed" last.
  */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"
#include "fake_phc.h"
#include "refclock_ptpkvm.h"

static int passed, failed;

#define CHECK(cond, ...) check_report((cond), #cond, __VA_ARGS__)

static void
check_report(int ok, const char *expr, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
check_report(int ok, const char *expr, const char *fmt, ...)
{
  va_list ap;

  printf("%s ", ok ? "PASS" : "FAIL");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (!ok)
    printf("  [%s]", expr);
  printf("\n");
  if (ok)
    passed++;
  else
    failed++;
}

/* ================================================== */
/* Fixture */

static void
must(int ret, const char *what)
{
  if (ret < 0) {
    fprintf(stderr, "fixture: %s failed: %s\n", what, strerror(errno));
    exit(2);
  }
}

static void
write_file(FAKE_Phc *f, const char *rel, const char *text, mode_t mode)
{
  char path[4096];

  must(FAKE_WriteFile(f, rel, text), rel);
  snprintf(path, sizeof (path), "%s%s", FAKE_Root(f), rel);
  must(chmod(path, mode), "chmod");
}

static void
make_symlink(FAKE_Phc *f, const char *rel, const char *target)
{
  char path[4096];

  snprintf(path, sizeof (path), "%s%s", FAKE_Root(f), rel);
  unlink(path);
  must(symlink(target, path), "symlink");
}

/* A PHC in sysfs, a device node for stat() and the scripted device */
static int
add_phc(FAKE_Phc *f, int index, const char *name)
{
  char dev[64];
  int d;

  must(FAKE_AddSysfsPtp(f, index, name), "sysfs ptp");
  snprintf(dev, sizeof (dev), "/dev/ptp%d", index);
  write_file(f, dev, "", 0640);
  d = FAKE_AddDevice(f, dev);
  must(d, "FAKE_AddDevice");
  return d;
}

/* Healthy KVM guest on kvm-clock: every check OK */
static FAKE_Phc *
healthy(int *kvm_dev)
{
  struct timespec when = { 1000000000, 0 };
  char text[512];
  FAKE_Phc *f = FAKE_Create(42);
  PKS_Status st;
  int d;

  if (!f) {
    fprintf(stderr, "FAKE_Create failed\n");
    exit(2);
  }
  /* the build's chronyd and its libraries, asked in a chroot of the tree */
  snprintf(text, sizeof (text), "cp -al '%s/.' '%s/'", getenv("DOCTOR_CHRONYD_ROOT"),
           FAKE_Root(f));
  must(getenv("DOCTOR_CHRONYD_ROOT") && system(text) == 0 ? 0 : -1, "DOCTOR_CHRONYD_ROOT");
  write_file(f, "/ptpkvm-doctor.cpuid", "hypervisor 1\nsignature 0x40000000 KVMKVMKVM\n", 0644);
  write_file(f, "/proc/sys/kernel/osrelease", "6.1.0-test\n", 0644);
  write_file(f, "/proc/modules", "ptp_kvm 20480 0 - Live 0x0\nptp 36864 1 ptp_kvm, Live 0x0\n",
             0644);
  write_file(f, "/proc/cpuinfo", "flags\t\t: fpu tsc constant_tsc nonstop_tsc hypervisor\n",
             0644);
  write_file(f, "/usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf",
             "[Unit]\nWants=modprobe@ptp_kvm.service\n", 0644);
  write_file(f, "/sys/devices/system/clocksource/clocksource0/current_clocksource",
             "kvm-clock\n", 0644);
  write_file(f, "/sys/devices/system/clocksource/clocksource0/available_clocksource",
             "kvm-clock tsc acpi_pm\n", 0644);
  write_file(f, "/dev/kmsg", "clocksource: Switched to clocksource kvm-clock\n", 0644);
  snprintf(text, sizeof (text), "root:x:0:0::/root:/bin/sh\n_chrony:x:4243:%ld::/:/bin/false\n",
           (long)getgid());
  write_file(f, "/etc/passwd", text, 0644);
  write_file(f, "/etc/group", "root:x:0:\n", 0644);
  write_file(f, "/etc/chrony/chrony.conf", "refclock PTPKVM auto\nmakestep 1 3\n", 0644);
  write_file(f, "/proc/1/comm", "systemd\n", 0644);
  write_file(f, "/proc/1/stat", "1 (systemd) S 0 1 1\n", 0644);
  write_file(f, "/proc/400/comm", "chronyd\n", 0644);
  write_file(f, "/proc/400/stat", "400 (chronyd) S 1 400 400\n", 0644);
  write_file(f, "/usr/bin/chronyc",
             "#!/bin/sh\necho '4B564D30,KVM0,1,1763770000.1,0.000000010,0.000000010,"
             "0.000000020,1.5,0.0,0.01,0.000000001,0.00001,2.0,Normal'\n", 0755);


  /* The driver's status file, written as the driver writes it: an old
     pause, reads working */
  must(FAKE_MkDir(f, "/run/chrony"), "mkdir");
  snprintf(text, sizeof (text), "%s/run/chrony/ptpkvm-0.status", FAKE_Root(f));
  PKS_Init(&st, 400, "auto");
  PKS_SetState(&st, "/dev/ptp0", "precise", "precise", 0, &when);
  st.counters = (PKS_Counters){ 1000, 0, 200, 1, 1 };
  PKS_AddDisruption(&st, &when, 360.0, PKS_CAUSE_PAUSE, 0.2, PKS_ACTION_STEP);
  must(PKS_Write(&st, text) == 1 ? 0 : -1, "PKS_Write");

  d = add_phc(f, 0, PHCR_DEFAULT_CLOCK_NAME);
  make_symlink(f, "/dev/ptp_kvm", "ptp0");
  must(FAKE_AddAlias(f, "/dev/ptp_kvm", d), "alias");
  *kvm_dev = d;
  return f;
}

/* ================================================== */
/* Running the doctor */

static int
run(FAKE_Phc *f, const char *samples, const char *extra)
{
  char *argv[10];
  int argc = 0;

  argv[argc++] = "ptpkvm-doctor";
  argv[argc++] = "--root";
  argv[argc++] = (char *)FAKE_Root(f);
  argv[argc++] = "--quiet";
  argv[argc++] = "--samples";
  argv[argc++] = (char *)samples;
  if (extra)
    argv[argc++] = (char *)extra;
  argv[argc] = NULL;
  return DOC_Main(argc, argv);
}

static const DOC_Result *
result(const char *id)
{
  static DOC_Result none;
  const DOC_Result *r = DOC_FindResult(DOC_LastReport(), id);

  if (!r) {
    snprintf(none.id, sizeof (none.id), "%s", id);
    none.status = -1;
    snprintf(none.message, sizeof (none.message), "(no result)");
    return &none;
  }
  return r;
}

static double
metric(const char *id, const char *name)
{
  const DOC_Result *r = result(id);
  int i;

  for (i = 0; i < r->n_metrics; i++)
    if (!strcmp(r->metrics[i].name, name))
      return r->metrics[i].value;
  return NAN;
}

static int
status_is(const char *id, DOC_Status s)
{
  return (int)result(id)->status == (int)s;
}

static int
message_has(const char *id, const char *text)
{
  const DOC_Result *r = result(id);

  return strstr(r->message, text) || strstr(r->fix, text);
}

/* ================================================== */
/* Tests */

static void
test_healthy(const char *json_out)
{
  int d, rc, i, all_ok = 1;
  const DOC_Report *rep;
  FAKE_Phc *f = healthy(&d);

  rc = run(f, "20", NULL);
  rep = DOC_LastReport();
  for (i = 0; i < rep->n_results; i++) {
    /* apt knows no chrony-ptpkvm package on the build machine */
    if (rep->results[i].status != DOC_OK && strcmp(rep->results[i].id, "chrony.update")) {
      all_ok = 0;
      printf("  not OK: %s %s\n", rep->results[i].id, rep->results[i].message);
    }
  }
  CHECK(rc == 0 && all_ok && rep->n_results > 0, "healthy guest: all %d checks OK, exit 0 (rc %d)",
        rep->n_results, rc);
  CHECK(message_has("ptpkvm.status", "ptpkvm-0.status: /dev/ptp0, mode precise, 1000 reads "
                    "(0 failed), 1 steps, 1 flushes, 1 disruptions"),
        "healthy: the driver's status file read back: %s", result("ptpkvm.status")->message);
  CHECK(message_has("phc.ioctls", "PRECISE works") && message_has("phc.ioctls", "GETCAPS works"),
        "healthy: ioctl report names the working ioctls: %s", result("phc.ioctls")->message);
  CHECK(metric("phc.stats", "phc_reads_ok") == 20 && metric("phc.stats", "phc_reads_failed") == 0,
        "healthy: 20 of 20 reads");
  CHECK(message_has("phc.stats", "PRECISE 20"), "healthy: kvm-clock -> all reads PRECISE: %s",
        result("phc.stats")->message);
  CHECK(fabs(metric("phc.stats", "phc_offset_median_seconds")) < 1e-6,
        "healthy: offset median near 0 (%.3g)", metric("phc.stats", "phc_offset_median_seconds"));
  {
    FAKE_Counters c;

    /* probes: PRECISE, EXTENDED and basic take one device reading each (the fake
       implements EXTENDED; ptp_kvm rejects it without a hypercall), then one per
       PRECISE read */
    FAKE_GetCounters(f, &c);
    CHECK(c.device_samples == 23, "kvm-clock: --samples 20 costs %lu device readings",
          c.device_samples);
  }

  if (json_out) {
    int fd = open(json_out, O_WRONLY | O_CREAT | O_TRUNC, 0644), saved = dup(1);
    char *argv[] = { "ptpkvm-doctor", "--root", (char *)FAKE_Root(f), "--json", NULL };

    fflush(stdout);
    dup2(fd, 1);
    rc = DOC_Main(4, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(fd);
    close(saved);
    CHECK(rc == 0, "healthy: --json run exits 0 (report in %s)", json_out);
  }
  (void)d;
  FAKE_Destroy(f);
}

static void
test_tsc_clocksource(void)
{
  PKM_Noise noise;
  int d, rc;
  FAKE_Phc *f = healthy(&d);
  double mn, med, mx;

  /* what a ptp_kvm guest on tsc looks like */
  write_file(f, "/sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n",
             0644);
  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_NoiseDefaults(&noise);
  noise.out_ns = noise.back_ns = 750;
  noise.jitter_ns = 100;
  FAKE_SetNoise(f, d, &noise);
  FAKE_SetOffset(f, d, 250000);       /* 250 us: chronyd still converging */

  rc = run(f, "20", NULL);
  CHECK(rc == 0 && status_is("phc.ioctls", DOC_OK) &&
        message_has("phc.ioctls", "guest clocksource is not kvm-clock") &&
        message_has("phc.ioctls", "EOPNOTSUPP, not implemented by ptp_kvm"),
        "tsc: PRECISE ENODEV and EXTENDED EOPNOTSUPP explained, still OK: %s",
        result("phc.ioctls")->message);
  CHECK(metric("phc.ioctls", "phc_precise_works") == 0 &&
        metric("phc.ioctls", "phc_sys_offset_works") == 1, "tsc: ioctl metrics");
  CHECK(status_is("phc.stats", DOC_OK) && message_has("phc.stats", "basic 20"),
        "tsc: 20 basic reads: %s", result("phc.stats")->message);
  mn = metric("phc.stats", "phc_delay_min_seconds");
  med = metric("phc.stats", "phc_delay_median_seconds");
  mx = metric("phc.stats", "phc_delay_max_seconds");
  /* 1.5 us plus two exponential jitters of mean 0.1 us (median 0.17 us) */
  CHECK(mn >= 1.5e-6 - 1e-12 && med <= 2.0e-6 && mn <= med && med <= mx,
        "tsc: delays from the scripted 1.5 us up, median below 2 us (min %.4g median %.4g "
        "max %.4g)", mn, med, mx);
  CHECK(fabs(metric("phc.stats", "phc_offset_median_seconds") - 250e-6) < 1e-6,
        "tsc: offset median = scripted 250 us (%.9f)",
        metric("phc.stats", "phc_offset_median_seconds"));
  FAKE_Destroy(f);
}

static void
test_host_cannot_answer(void)
{
  int d, rc;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, EOPNOTSUPP);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_SetModeErrno(f, d, PHCR_MODE_BASIC, EOPNOTSUPP);
  rc = run(f, "20", NULL);
  CHECK(rc == 2 && status_is("phc.ioctls", DOC_FAIL) &&
        message_has("phc.ioctls", "host cannot answer") && message_has("phc.ioctls", "host side"),
        "EOPNOTSUPP everywhere (after migration) -> FAIL, host-side fix: %s",
        result("phc.ioctls")->message);
  CHECK(status_is("phc.stats", DOC_SKIP), "EOPNOTSUPP: no statistics");
  FAKE_Destroy(f);
}

static void
test_not_a_phc(void)
{
  int d, rc;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetPhc(f, d, 0);
  rc = run(f, "5", NULL);
  CHECK(rc == 2 && status_is("phc.ioctls", DOC_FAIL) &&
        message_has("phc.ioctls", "not a working PHC"), "GETCAPS fails -> FAIL: %s",
        result("phc.ioctls")->message);
  FAKE_Destroy(f);
}

static void
test_device_gone(void)
{
  int d, rc;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_BASIC, ENODEV);
  rc = run(f, "5", NULL);
  CHECK(rc == 2 && status_is("phc.ioctls", DOC_FAIL) && message_has("phc.ioctls", "device gone") &&
        message_has("phc.ioctls", "modprobe"), "ENODEV on every ioctl -> FAIL, reload: %s",
        result("phc.ioctls")->message);
  FAKE_Destroy(f);

  f = healthy(&d);
  FAKE_RemoveDevice(f, d);
  rc = run(f, "5", NULL);
  CHECK(rc == 2 && status_is("phc.ioctls", DOC_FAIL) && message_has("phc.ioctls", "cannot open"),
        "device node that cannot be opened (ENOENT) -> FAIL: %s", result("phc.ioctls")->message);
  FAKE_Destroy(f);
}

static void
test_precise_only(void)
{
  int d, rc;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetModeErrno(f, d, PHCR_MODE_BASIC, EOPNOTSUPP);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  rc = run(f, "5", NULL);
  CHECK(rc == 1 && status_is("phc.ioctls", DOC_WARN), "only PRECISE works -> WARN (rc %d)", rc);
  CHECK(status_is("phc.stats", DOC_OK) && message_has("phc.stats", "PRECISE 5"),
        "only PRECISE: statistics from PRECISE: %s", result("phc.stats")->message);
  FAKE_Destroy(f);
}

static void
test_open_denied(void)
{
  int d, rc, i, listed = 0;
  FAKE_Phc *f = healthy(&d);
  const DOC_Report *rep;

  FAKE_SetOpenErrno(f, d, EACCES);
  rc = run(f, "5", NULL);
  rep = DOC_LastReport();
  for (i = 0; i < rep->n_unreadable; i++)
    listed |= !!strstr(rep->unreadable[i], "/dev/ptp0");
  CHECK(rc == 0 && status_is("phc.ioctls", DOC_SKIP) && status_is("phc.stats", DOC_SKIP) &&
        message_has("phc.ioctls", "Permission denied") && listed,
        "EACCES (unprivileged) -> SKIP, says what it could not read (rc %d): %s", rc,
        result("phc.ioctls")->message);
  CHECK(status_is("chrony.refclock", DOC_SKIP) &&
        message_has("chrony.refclock", "/dev/ptp0: cannot open: Permission denied"),
        "EACCES: which device chronyd opens cannot be told -> SKIP: %s",
        result("chrony.refclock")->message);
  FAKE_Destroy(f);
}

static void
test_offsets(void)
{
  static const struct {
    int64_t offset_ns;
    DOC_Status status;
    const char *what;
  } cases[] = {
    { 2000000000LL, DOC_FAIL, "+2 s" },
    { -3600000000000LL, DOC_FAIL, "-1 h" },
    { 5000000LL, DOC_WARN, "+5 ms" },
    { -5000000LL, DOC_WARN, "-5 ms" },
    { 500000LL, DOC_OK, "+0.5 ms" },
    { -900000LL, DOC_OK, "-0.9 ms" },
  };
  unsigned int i;
  int d;

  for (i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
    FAKE_Phc *f = healthy(&d);

    FAKE_SetOffset(f, d, cases[i].offset_ns);
    run(f, "10", NULL);
    CHECK(status_is("phc.stats", cases[i].status) &&
          fabs(metric("phc.stats", "phc_offset_median_seconds") -
               cases[i].offset_ns * 1e-9) < 1e-6,
          "offset %s -> %s (median %.9f)", cases[i].what, DOC_StatusName(cases[i].status),
          metric("phc.stats", "phc_offset_median_seconds"));
    FAKE_Destroy(f);
  }
}

static void
test_delays(void)
{
  PKM_Noise noise;
  FAKE_Phc *f;
  int d;

  /* slow hypercalls: 200 us each */
  f = healthy(&d);
  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_NoiseDefaults(&noise);
  noise.out_ns = noise.back_ns = 100000;
  noise.jitter_ns = 500;
  FAKE_SetNoise(f, d, &noise);
  run(f, "10", NULL);
  CHECK(status_is("phc.stats", DOC_WARN) && message_has("phc.stats", "slow PHC reads"),
        "median delay 200 us -> WARN: %s", result("phc.stats")->message);
  FAKE_Destroy(f);

  /* rare 50-500 us spikes move the max, not the median: OK */
  f = healthy(&d);
  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_NoiseDefaults(&noise);
  noise.spike_prob = 0.1;
  FAKE_SetNoise(f, d, &noise);
  run(f, "40", NULL);
  CHECK(status_is("phc.stats", DOC_OK) &&
        metric("phc.stats", "phc_delay_max_seconds") >= 50e-6 &&
        metric("phc.stats", "phc_delay_median_seconds") < 10e-6,
        "10%% spikes: max %.3g s >= 50 us, median %.3g s small -> OK",
        metric("phc.stats", "phc_delay_max_seconds"),
        metric("phc.stats", "phc_delay_median_seconds"));
  FAKE_Destroy(f);
}

static void
test_intermittent(void)
{
  int d;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  /* the probe's basic ioctl works, then three reads hit an I/O error */
  FAKE_QueueErrno(f, d, PHCR_MODE_BASIC, 0, 1);
  FAKE_QueueErrno(f, d, PHCR_MODE_BASIC, EIO, 3);
  run(f, "10", NULL);
  CHECK(status_is("phc.stats", DOC_WARN) && message_has("phc.stats", "intermittent") &&
        metric("phc.stats", "phc_reads_failed") >= 1 && metric("phc.stats", "phc_reads_ok") >= 1,
        "some reads fail -> WARN (%g ok, %g failed): %s", metric("phc.stats", "phc_reads_ok"),
        metric("phc.stats", "phc_reads_failed"), result("phc.stats")->message);
  FAKE_Destroy(f);

  /* more than half of the reads fail: the survivors are not judged */
  f = healthy(&d);
  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_QueueErrno(f, d, PHCR_MODE_BASIC, 0, 1);
  FAKE_QueueErrno(f, d, PHCR_MODE_BASIC, EIO, 6);
  run(f, "10", NULL);
  CHECK(status_is("phc.stats", DOC_FAIL) && message_has("phc.stats", "most of 10 readings") &&
        message_has("phc.stats", "Input/output error") &&
        metric("phc.stats", "phc_reads_failed") == 6, "6 of 10 reads fail -> FAIL: %s",
        result("phc.stats")->message);
  FAKE_Destroy(f);

  /* the ioctls answer (the probe passes), but every reading is garbage */
  f = healthy(&d);
  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_QueueGarbage(f, d, PHCR_MODE_BASIC, PKM_GARBAGE_ALL_NSEC, 1000);
  run(f, "10", NULL);
  CHECK(status_is("phc.stats", DOC_FAIL) && metric("phc.stats", "phc_reads_failed") == 10 &&
        message_has("phc.stats", "all 10 readings") &&
        message_has("phc.stats", "invalid"), "every reading is garbage -> FAIL: %s",
        result("phc.stats")->message);
  FAKE_Destroy(f);

  f = healthy(&d);
  run(f, "0", NULL);
  CHECK(status_is("phc.stats", DOC_SKIP) && message_has("phc.stats", "--samples 0"),
        "--samples 0 -> statistics SKIP: %s", result("phc.stats")->message);
  FAKE_Destroy(f);
}

static void
test_ioctl_numbers(void)
{
  FAKE_Counters c;
  int d;
  FAKE_Phc *f = healthy(&d);

  FAKE_SetModeErrno(f, d, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(f, d, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  run(f, "10", NULL);
  FAKE_GetCounters(f, &c);
  CHECK(c.ioctl_mode[PHCR_MODE_BASIC] >= 11 && c.other_ioctls == 0,
        "reads use the original ioctl numbers only (basic %lu, other %lu)",
        c.ioctl_mode[PHCR_MODE_BASIC], c.other_ioctls);
  /* cost on the host: 5 device readings per statistics read plus one for the probe */
  CHECK(c.device_samples >= 50 && c.device_samples <= 51 && c.open_fds == 0,
        "--samples 10 costs %lu hypercalls, leaves %lu descriptors open", c.device_samples,
        c.open_fds);
  FAKE_Destroy(f);
}

static void
test_several_phcs(void)
{
  int nic, kvm, rc;
  FAKE_Phc *f;

  f = healthy(&kvm);
  FAKE_SetOffset(f, kvm, 100000000000LL);   /* this one is now the "NIC" at ptp0 */
  must(FAKE_WriteFile(f, "/sys/class/ptp/ptp0/clock_name", "mlx5_ptp\n"), "rename");
  nic = kvm;
  kvm = add_phc(f, 1, PHCR_DEFAULT_CLOCK_NAME);
  make_symlink(f, "/dev/ptp_kvm", "ptp1");
  FAKE_AddAlias(f, "/dev/ptp_kvm", kvm);
  FAKE_SetOffset(f, kvm, 1000);
  rc = run(f, "10", NULL);
  CHECK(status_is("phc.devices", DOC_OK) && message_has("phc.devices", "/dev/ptp0 is 'mlx5_ptp'"),
        "two PHCs: KVM at ptp1 found, ptp0 flagged: %s", result("phc.devices")->message);
  CHECK(fabs(metric("phc.stats", "phc_offset_median_seconds") - 1e-6) < 1e-7 && rc == 0,
        "two PHCs: statistics read the KVM PHC, not ptp0 (median %.9f, rc %d)",
        metric("phc.stats", "phc_offset_median_seconds"), rc);
  (void)nic;
  FAKE_Destroy(f);
}

/* ================================================== */
/* Which device a refclock line opens: phc_reader's discovery on three
   PHCs (ptp0 the KVM clock behind /dev/ptp_kvm, ptp1 a NIC, ptp2 hyperv
   readable by root only) */

typedef struct {
  const char *conf;
  DOC_Status refclock;
  const char *refclock_text;
  const char *check;            /* another check, NULL if none */
  DOC_Status status;
  const char *text;
} RefclockCase;

static FAKE_Phc *
three_phcs(void)
{
  FAKE_Phc *f;
  char path[4096];
  int d;

  f = healthy(&d);
  add_phc(f, 1, "mlx5_ptp");
  add_phc(f, 2, "hyperv");
  snprintf(path, sizeof (path), "%s/dev/ptp2", FAKE_Root(f));
  must(chmod(path, 0600), "chmod");
  return f;
}

static void
test_refclock_devices(void)
{
  static const RefclockCase cases[] = {
    { "refclock PTPKVM auto\n", DOC_OK, "auto -> /dev/ptp0: clock_name 'KVM virtual PTP'",
      "phc.access", DOC_OK, "/dev/ptp0" },
    { "refclock PTPKVM auto:clockname=hyperv\n", DOC_OK, "/dev/ptp2: clock_name 'hyperv'",
      "phc.access", DOC_WARN, "cannot open /dev/ptp2" },
    { "refclock PTPKVM auto:clockname=My_Clock\n", DOC_FAIL,
      "no usable PHC with clock_name 'My Clock'", NULL, 0, NULL },
    { "refclock PTPKVM auto:clockname=vmclock\n", DOC_FAIL,
      "no usable PHC with clock_name 'vmclock'", NULL, 0, NULL },
    { "refclock PTPKVM auto:clockname=KVM_virtual_PTP\n", DOC_OK, "/dev/ptp0", NULL, 0, NULL },
    { "refclock PTPKVM /dev/ptp2:clockname=hyperv\n", DOC_OK, "/dev/ptp2", NULL, 0, NULL },
    { "refclock PTPKVM /dev/ptp_kvm:clockname=hyperv\n", DOC_FAIL,
      "clock_name 'KVM virtual PTP', not 'hyperv'", NULL, 0, NULL },
    { "refclock PTPKVM /dev/ptp1 poll 2\n", DOC_FAIL,
      "is /dev/ptp1 with clock_name 'mlx5_ptp', not 'KVM virtual PTP'", NULL, 0, NULL },
    { "refclock PTPKVM /dev/ptp_kvm\n", DOC_OK, "/dev/ptp0", "chrony.makestep", DOC_OK,
      "steps by itself" },
    { "refclock PTPKVM /dev/ptp9\n", DOC_FAIL, "the source stays unreachable", NULL, 0, NULL },
    { "refclock PHC /dev/ptp_kvm poll 2\nmakestep 1 -1\n", DOC_OK, "refclock PHC /dev/ptp_kvm",
      "chrony.makestep", DOC_OK, "makestep 1 -1" },
    { "refclock PHC /dev/ptp0:nocrossts poll 2\nmakestep 1 3\n", DOC_WARN, "numbered",
      "chrony.makestep", DOC_WARN, "first 3 updates" },
    { "refclock PHC /dev/ptp1\n", DOC_FAIL, "'mlx5_ptp', not 'KVM virtual PTP'", "chrony.sync",
      DOC_WARN, "a PHC with clock_name 'mlx5_ptp': not the host's clock" },
    { "refclock PHC /dev/ptp7\n", DOC_SKIP, "would not start", "chrony.config", DOC_FAIL,
      "Could not open PHC /dev/ptp7 (/dev/ptp7: cannot open" },
    { "refclock PHC auto\n", DOC_SKIP, "would not start", "chrony.config", DOC_FAIL,
      "Could not open PHC auto (not a path)" },
    { "refclock PHC /dev/ptp1\nrefclock PTPKVM auto\n", DOC_FAIL, "mlx5_ptp", NULL, 0, NULL },
  };
  unsigned int i;
  FAKE_Phc *f = three_phcs();

  for (i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
    const RefclockCase *c = &cases[i];

    must(FAKE_WriteFile(f, "/etc/chrony/chrony.conf", c->conf), "chrony.conf");
    run(f, "0", NULL);
    CHECK(status_is("chrony.refclock", c->refclock) &&
          message_has("chrony.refclock", c->refclock_text) &&
          (!c->check || (status_is(c->check, c->status) && message_has(c->check, c->text))),
          "refclock device: %.*s -> %s: %s%s%s", (int)strcspn(c->conf, "\n"), c->conf,
          DOC_StatusName(c->refclock), result("chrony.refclock")->message,
          c->check ? " / " : "", c->check ? result(c->check)->message : "");
  }
  FAKE_Destroy(f);
}

/* auto without a PHC named like the KVM clock: /dev/ptp_kvm, unless it is
   known to be another PHC */
static void
test_refclock_auto_fallback(void)
{
  FAKE_Phc *f = three_phcs();
  char path[4096], gone[4200];

  must(FAKE_WriteFile(f, "/sys/class/ptp/ptp0/clock_name", "vmclock\n"), "rename");
  must(FAKE_WriteFile(f, "/etc/chrony/chrony.conf", "refclock PTPKVM auto\n"), "conf");
  run(f, "0", NULL);
  CHECK(status_is("chrony.refclock", DOC_FAIL) &&
        message_has("chrony.refclock", "leads to /dev/ptp0 with clock_name 'vmclock'"),
        "auto: /dev/ptp_kvm leads to another PHC -> FAIL: %s", result("chrony.refclock")->message);

  snprintf(path, sizeof (path), "%s/sys/class/ptp/ptp0", FAKE_Root(f));
  snprintf(gone, sizeof (gone), "%s.gone", path);
  must(rename(path, gone), "hide ptp0");
  run(f, "0", NULL);
  CHECK(status_is("chrony.refclock", DOC_OK) &&
        message_has("chrony.refclock", "udev symlink of the KVM PTP clock"),
        "auto: /dev/ptp_kvm without a sysfs entry is taken: %s",
        result("chrony.refclock")->message);
  FAKE_Destroy(f);
}

/* ================================================== */

int
main(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_healthy(argc > 1 ? argv[1] : NULL);
  test_tsc_clocksource();
  test_host_cannot_answer();
  test_not_a_phc();
  test_device_gone();
  test_precise_only();
  test_open_denied();
  test_offsets();
  test_delays();
  test_intermittent();
  test_ioctl_numbers();
  test_several_phcs();
  test_refclock_devices();
  test_refclock_auto_fallback();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
