#!/usr/bin/env python3
# chrony-ptpkvm -- regenerate the patch series patches/<version>/
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Maintainer tool (not run by the build): applies the edits below to
# pristine chrony trees, extracted from the verified tarballs in build/src
# (fetch them first with `make CHRONY_VERSION=X chrony` or
# scripts/fetch-chrony.sh), and writes each patch with its header, diff
# labels a/FILE b/FILE and no timestamps.  Every edit is anchored on text
# that must occur exactly once, so a chrony change shows up as an error
# here rather than as a fuzzy hunk.  The chrony.conf(5) man page shipped in
# the tarball gets the same change as the AsciiDoc source; that step needs
# asciidoctor (Debian package asciidoctor), the build does not.
import os, shutil, subprocess, sys, tarfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSIONS = {'4.3': 40300, '4.6.1': 40601, '4.9': 40900}
WORK = os.path.join(TOP, 'build', 'patchwork')
REF = os.path.join(WORK, 'ref')


def pristine_tree(v):
    """chrony-<v> extracted from the verified tarball, never patched."""
    tree = os.path.join(REF, 'chrony-' + v)
    if not os.path.isdir(tree):
        tgz = os.path.join(TOP, 'build', 'src', 'chrony-%s.tar.gz' % v)
        if not os.path.exists(tgz):
            sys.exit('%s missing: run scripts/fetch-chrony.sh %s build/src' % (tgz, v))
        os.makedirs(REF, exist_ok=True)
        with tarfile.open(tgz) as t:
            t.extractall(REF)
    return tree

def rep(text, old, new, fname):
    n = text.count(old)
    if n != 1:
        sys.exit('%s: anchor found %d times: %r' % (fname, n, old[:80]))
    return text.replace(old, new)

DOC = open(os.path.join(TOP, 'patches', 'ptpkvm.adoc')).read()

def p0001(v, get, put):
    t = get('refclock.c')
    t = rep(t, 'extern RefclockDriver RCL_PHC_driver;\n',
            'extern RefclockDriver RCL_PHC_driver;\nextern RefclockDriver RCL_PTPKVM_driver;\n', 'refclock.c')
    t = rep(t, '''  } else if (strcmp(params->driver_name, "PHC") == 0) {
    inst->driver = &RCL_PHC_driver;
''', '''  } else if (strcmp(params->driver_name, "PHC") == 0) {
    inst->driver = &RCL_PHC_driver;
  } else if (strcmp(params->driver_name, "PTPKVM") == 0) {
    inst->driver = &RCL_PTPKVM_driver;
''', 'refclock.c')
    t = rep(t, '''    snprintf((char *)ref, sizeof (ref), "%3.3s", params->driver_name);
''', '''    /* PTPKVM sources are named KVM0, KVM1, ... */
    snprintf((char *)ref, sizeof (ref), "%3.3s",
             strcmp(params->driver_name, "PTPKVM") ? params->driver_name : "KVM");
''', 'refclock.c')
    put('refclock.c', t)

def p0002(v, get, put):
    t = get('configure')
    if v == '4.9':
        t = rep(t, '''  EXTRA_OBJECTS="$EXTRA_OBJECTS refclock.o refclock_phc.o refclock_pps.o \\
    refclock_rtc.o refclock_sensor.o refclock_shm.o refclock_sock.o"
''', '''  add_def PTPKVM_CHRONY_VERSION %d
  EXTRA_OBJECTS="$EXTRA_OBJECTS refclock.o refclock_phc.o refclock_pps.o \\
    refclock_rtc.o refclock_sensor.o refclock_shm.o refclock_sock.o \\
    refclock_ptpkvm.o refclock_ptpkvm_policy.o refclock_ptpkvm_decide.o \\
    refclock_ptpkvm_status.o"
''' % VERSIONS[v], 'configure')
    else:
        t = rep(t, '''  EXTRA_OBJECTS="$EXTRA_OBJECTS refclock.o refclock_phc.o refclock_pps.o refclock_shm.o refclock_sock.o"
''', '''  add_def PTPKVM_CHRONY_VERSION %d
  EXTRA_OBJECTS="$EXTRA_OBJECTS refclock.o refclock_phc.o refclock_pps.o refclock_shm.o refclock_sock.o \\
    refclock_ptpkvm.o refclock_ptpkvm_policy.o refclock_ptpkvm_decide.o \\
    refclock_ptpkvm_status.o"
''' % VERSIONS[v], 'configure')
    t = rep(t, '''    EXTRA_OBJECTS="$EXTRA_OBJECTS hwclock.o"
  add_def FEAT_PHC
''', '''    EXTRA_OBJECTS="$EXTRA_OBJECTS hwclock.o"
  add_def FEAT_PHC
  # The PTPKVM refclock needs the PHC support and libphcr (phc_reader) of
  # chrony-ptpkvm, found through CPPFLAGS/LDFLAGS given to configure.
  add_def FEAT_PTPKVM
  EXTRA_LIBS="$EXTRA_LIBS -lphcr"
''', 'configure')
    put('configure', t)

def p0003(v, get, put):
    t = get('conf.c')
    t = rep(t, '''  name = Strdup(p);
''', '''  name = Strdup(p);

  /* The PTPKVM driver reads the host clock cheaply and filters the readings
     itself: by default it polls every second, and the filter takes as many
     samples as the driver makes in the polling interval (set below) */
  if (!strcmp(name, "PTPKVM")) {
    poll = 0;
    filter_length = -1;
  }
''', 'conf.c')
    t = rep(t, '''  refclock = (RefclockParameters *)ARR_GetNewElement(refclock_sources);
''', '''  if (filter_length < 0)
    filter_length = 1 << CLAMP(0, poll - dpoll, 6);

  refclock = (RefclockParameters *)ARR_GetNewElement(refclock_sources);
''', 'conf.c')
    put('conf.c', t)

def p0004(v, get, put):
    t = get('refclock.c')
    t = rep(t, '''void
RCL_CheckDriverOptions(RCL_Instance instance, const char **options)
{
''', '''static void
format_driver_options(const char **options, char *buf, int len)
{
  int i, used;

  buf[0] = '\\0';
  for (i = used = 0; options && options[i] && used < len; i++)
    used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "", options[i]);
}

void
RCL_CheckDriverOptions(RCL_Instance instance, const char **options)
{
  char valid[256];
''', 'refclock.c')
    t = rep(t, '''    if (!options || !options[i])
      LOG_FATAL("Invalid refclock driver option %s", option);
''', '''    if (!options || !options[i]) {
      format_driver_options(options, valid, sizeof (valid));
      LOG_FATAL("Invalid refclock driver option %s (valid options: %s)", option,
                valid[0] ? valid : "none");
    }
''', 'refclock.c')
    put('refclock.c', t)

def p0005(v, get, put):
    t = get('sys_linux.c')
    t = rep(t, '''    PTP_EXTTS_REQUEST, PTP_SYS_OFFSET,
''', '''    PTP_EXTTS_REQUEST, PTP_SYS_OFFSET,
#ifdef FEAT_PTPKVM
    /* Read-only: the PTPKVM refclock verifies a device it (re)opens */
    PTP_CLOCK_GETCAPS,
#endif
''', 'sys_linux.c')
    put('sys_linux.c', t)

def p0007(v, get, put):
    t = get('refclock.c')
    t = rep(t, '  int tai;\n', '  int tai;\n  int sel_options;\n', 'refclock.c')
    t = rep(t, '  inst->tai = params->tai;\n',
            '  inst->tai = params->tai;\n  inst->sel_options = params->sel_options;\n', 'refclock.c')
    t = rep(t, '''int
RCL_GetDriverPoll(RCL_Instance instance)
{
  return instance->driver_poll;
}
''', '''int
RCL_GetDriverPoll(RCL_Instance instance)
{
  return instance->driver_poll;
}

int
RCL_GetDriverStepOffset(RCL_Instance instance, struct timespec *sample_time,
                        struct timespec *ref_time, double *offset, int *may_step)
{
  /* A source that chronyd may not select, or whose samples are not
     absolute times, must not move the clock */
  *may_step = !(instance->sel_options & SRC_SELECT_NOSELECT) &&
              !instance->pps_forced && instance->lock_ref == -1;

  *offset = UTI_DiffTimespecsToDouble(ref_time, sample_time) + instance->offset;
  if (instance->tai && !convert_tai_offset(sample_time, offset))
    return 0;

  return 1;
}
''', 'refclock.c')
    put('refclock.c', t)
    t = get('refclock.h')
    t = rep(t, '''extern int RCL_GetDriverPoll(RCL_Instance instance);
''', '''extern int RCL_GetDriverPoll(RCL_Instance instance);

/* For a driver that steps the clock itself: the offset (ref_time -
   sample_time) of a reading with the generic options applied as
   RCL_AddSample applies them (offset, tai), and whether the source may
   move the clock (not noselect, not a pulse or locked source).  Returns 0
   if the offset is unknown (TAI-UTC offset not known). */
extern int RCL_GetDriverStepOffset(RCL_Instance instance, struct timespec *sample_time,
                                   struct timespec *ref_time, double *offset,
                                   int *may_step);
''', 'refclock.h')
    put('refclock.h', t)

def p0008(v, get, put):
    t = get('refclock.c')
    t = rep(t, '  int sel_options;\n', '  int sel_options;\n  int burst;\n  double burst_interval;\n', 'refclock.c')
    t = rep(t, '''  RCL_Instance inst = (RCL_Instance)arg;

  poll = inst->poll;
''', '''  RCL_Instance inst = (RCL_Instance)arg;
  int in_burst = inst->burst > 0;

  /* No poll is pending while the driver is polled */
  inst->timeout_id = 0;

  poll = inst->poll;
''', 'refclock.c')
    t = rep(t, '''  if (!(inst->driver->poll && inst->driver_polled < (1 << (inst->poll - inst->driver_poll)))) {
''', '''  /* In a burst every driver poll completes a polling interval (a burst
     requested in this poll starts with the next one) */
  if (in_burst && inst->burst > 0 && inst->driver->poll) {
    inst->burst--;
    inst->driver_polled = 1 << (inst->poll - inst->driver_poll);
  }

  if (!(inst->driver->poll && inst->driver_polled < (1 << (inst->poll - inst->driver_poll)))) {
''', 'refclock.c')
    t = rep(t, '''  inst->timeout_id = SCH_AddTimeoutByDelay(UTI_Log2ToDouble(poll), poll_timeout, arg);
}
''', '''  /* The driver may have requested a burst while it was polled */
  inst->timeout_id = SCH_AddTimeoutByDelay(inst->burst > 0 ? inst->burst_interval :
                                           UTI_Log2ToDouble(poll), poll_timeout, arg);
}
''', 'refclock.c')
    t = rep(t, '''int
RCL_GetDriverStepOffset(''', '''void
RCL_RequestBurst(RCL_Instance instance, int polls, double interval)
{
  if (!instance->driver->poll || polls < 1 || interval <= 0.0)
    return;

  instance->burst = polls;
  instance->burst_interval = interval;

  /* Bring a pending poll forward (a poll in progress schedules the next
     one itself; before the refclocks are started there is none) */
  if (instance->timeout_id != 0 && instance->timeout_id != (SCH_TimeoutID)-1) {
    SCH_RemoveTimeout(instance->timeout_id);
    instance->timeout_id = SCH_AddTimeoutByDelay(interval, poll_timeout, instance);
  }
}

int
RCL_GetDriverStepOffset(''', 'refclock.c')
    put('refclock.c', t)
    t = get('refclock.h')
    t = rep(t, '''/* For a driver that steps the clock itself:''', '''/* Poll the driver the next polls times after interval seconds, each poll
   completing a polling interval of the source (its filter output goes to
   source selection), e.g. to have fresh samples soon after the driver
   dropped all samples */
extern void RCL_RequestBurst(RCL_Instance instance, int polls, double interval);

/* For a driver that steps the clock itself:''', 'refclock.h')
    put('refclock.h', t)

def p0009(v, get, put):
    t = get('refclock.c')
    t = rep(t, '  double burst_interval;\n', '  double burst_interval;\n  double sample_error;\n', 'refclock.c')
    t = rep(t, '''  UTI_AddDoubleToTimespec(sample_time, correction, &cooked_time);
  dispersion += instance->precision;
''', '''  UTI_AddDoubleToTimespec(sample_time, correction, &cooked_time);
  dispersion += MAX(instance->precision, instance->sample_error);
  instance->sample_error = 0.0;
''', 'refclock.c')
    t = rep(t, '''void
RCL_RequestBurst(''', '''void
RCL_SetSampleError(RCL_Instance instance, double error)
{
  instance->sample_error = error > 0.0 ? error : 0.0;
}

void
RCL_RequestBurst(''', 'refclock.c')
    put('refclock.c', t)
    t = get('refclock.h')
    t = rep(t, '''/* Poll the driver the next polls times''', '''/* The error bound of the offset of the next sample the driver adds (s):
   its dispersion where larger than the refclock's precision */
extern void RCL_SetSampleError(RCL_Instance instance, double error);

/* Poll the driver the next polls times''', 'refclock.h')
    put('refclock.h', t)

def gen_man(adoc_text, tmpdir):
    os.makedirs(tmpdir, exist_ok=True)
    a = os.path.join(tmpdir, 'chrony.conf.adoc')
    open(a, 'w').write(adoc_text)
    os.utime(a, (1700000000, 1700000000))
    out = os.path.join(tmpdir, 'chrony.conf.man.in')
    subprocess.run(['asciidoctor', '-b', 'manpage', '-o', out, a], check=True)
    return open(out).read()

def p0006(v, get, put):
    orig = get('doc/chrony.conf.adoc')
    count = {'4.3': 'four', '4.6.1': 'four', '4.9': 'six'}[v]
    more = {'4.3': 'five', '4.6.1': 'five', '4.9': 'seven'}[v]
    t = rep(orig, 'There are %s drivers included in *chronyd*:' % count,
            'There are %s drivers included in *chronyd*:' % more, 'doc/chrony.conf.adoc')
    t = rep(t, '+\n{blank}::\nThe *refclock* directive supports the following options:\n',
            '+\n' + DOC + '+\n{blank}::\nThe *refclock* directive supports the following options:\n',
            'doc/chrony.conf.adoc')
    put('doc/chrony.conf.adoc', t)
    # The release tarball ships the generated man page (doc/chrony.conf.man.in),
    # which make install would otherwise regenerate with asciidoctor: apply the
    # change of the generated page to the shipped one.
    tmp = os.path.join(WORK, 'man-' + v)
    m0 = gen_man(orig, os.path.join(tmp, 'a'))
    m1 = gen_man(t, os.path.join(tmp, 'b'))
    open(os.path.join(tmp, 'm0'), 'w').write(m0)
    open(os.path.join(tmp, 'm1'), 'w').write(m1)
    d = subprocess.run(['diff', os.path.join(tmp, 'm0'), os.path.join(tmp, 'm1')],
                       capture_output=True, text=True).stdout
    shipped = get('doc/chrony.conf.man.in')
    target = os.path.join(tmp, 'shipped')
    open(target, 'w').write(shipped)
    r = subprocess.run(['patch', '-F0', '-s', target], input=d, text=True, capture_output=True)
    if r.returncode:
        sys.exit('man page diff does not apply for %s: %s' % (v, r.stdout + r.stderr))
    put('doc/chrony.conf.man.in', open(target).read())

PATCHES = [
    ('0001-refclock-register-PTPKVM-driver.patch', p0001, 'refclock: register the PTPKVM driver, refid KVM<n>', '''\
Add "PTPKVM" to the refclock driver table.  The driver itself,
refclock_ptpkvm.c, is maintained in chrony-ptpkvm and linked into the
tree by its build; when chrony is configured without PHC support it
compiles to an empty driver and chronyd reports it as not compiled in,
like the other drivers.

The default reference ID of a PTPKVM refclock is "KVM" and the refclock
number (KVM0) instead of "PTP0", which would suggest a PTP network
source.'''),
    ('0002-configure-build-PTPKVM-refclock.patch', p0002, 'configure: build the PTPKVM refclock, define the chrony API version', '''\
Add refclock_ptpkvm.o, refclock_ptpkvm_policy.o and
refclock_ptpkvm_decide.o (the driver's chrony-free decisions) and
refclock_ptpkvm_status.o (its status file for monitoring, written next
to the command socket with open, write, chmod, rename and unlink, which
the -F 1 seccomp filter allows) to the refclock object list.  Where the
PHC refclock is
supported (Linux with <linux/ptp_clock.h>), define FEAT_PTPKVM and link
libphcr, the PHC reading library of chrony-ptpkvm (its include and
library directories come in CPPFLAGS and LDFLAGS).

chrony has no version macro usable by a driver; define
PTPKVM_CHRONY_VERSION as major * 10000 + minor * 100 + patch (%(num)d for
chrony %(ver)s) so refclock_ptpkvm.c can follow the API changes between
releases (RCL_AddSample's quality argument since 4.8).'''),
    ('0003-conf-PTPKVM-refclock-defaults.patch', p0003, 'conf: PTPKVM refclock defaults (poll 0, filter per driver polls)', '''\
The generic refclock defaults (poll 4, filter 64) hold samples for up to
16 seconds, so after a paused virtual machine resumes and the driver drops
all samples, the source would need a minute or more to be selected again.
The PTPKVM driver filters its readings itself (one sample per driver poll
from 10 readings) and reads the host clock cheaply, so give it its own
defaults: poll 0 (1 second, with the default dpoll 0) and, unless the
filter option is given, a filter as long as the number of driver polls
in the polling interval (1 by default; 2^(poll - dpoll) at most 64 when
poll or dpoll are given).  The source is then selectable again about
three seconds after a reset.  Other drivers are not affected.'''),
    ('0004-refclock-list-valid-driver-options.patch', p0004, 'refclock: name the valid options of a driver in the error message', '''\
An unknown driver option stops chronyd with "Invalid refclock driver
option X".  Add the list of the options the driver accepts, so that a
typo in e.g. "refclock PTPKVM auto:sample=5" says what was meant
("... (valid options: nocrossts, noextended, samples, ...)").  Malformed
values of known options are reported by the drivers themselves.'''),
    ('0005-sys_linux-allow-PTP_CLOCK_GETCAPS-in-seccomp-filter.patch', p0005, 'sys_linux: allow PTP_CLOCK_GETCAPS in the seccomp filter', '''\
With -F 1, chronyd allows only the PHC reading ioctls (PTP_SYS_OFFSET,
_EXTENDED, _PRECISE).  The PTPKVM refclock (re)opens its device at run
time: when the device appears after chronyd started, and after the device
went away (e.g. a live migration or a module reload).  phc_reader then
verifies that the file is a PHC and whether it supports cross
timestamping with PTP_CLOCK_GETCAPS, a read-only ioctl which only copies
the clock's capabilities to the caller.  Without it in the allow-list the
process would be killed on the first reopen.  The discovery itself uses
only syscalls already allowed (openat, getdents64, fstat, read, close).'''),
    ('0006-doc-document-the-PTPKVM-refclock.patch', p0006, 'doc: document the PTPKVM refclock driver', '''\
Add a PTPKVM entry to the list of refclock drivers in chrony.conf(5):
what it reads, how it handles a paused virtual machine, its defaults and
its options.  docs/configuration.md of chrony-ptpkvm has the recommended
configurations and what each option trades.

The release tarball ships the man page generated from the AsciiDoc source
(doc/chrony.conf.man.in); it gets the same change (generated with
asciidoctor and applied to the shipped page), so that make install does
not need asciidoctor to regenerate it.'''),
    ('0007-refclock-step-offset-for-drivers-that-step.patch', p0007, 'refclock: tell a driver that steps the clock where its source says the time is', '''\
The PTPKVM driver steps the clock itself when the host clock jumped (a
paused virtual machine resumed).  The generic refclock options that change
where a source says the time is (offset, tai) and those that keep a source
from moving the clock (noselect; pps and lock, whose samples are not
absolute times) are applied in refclock.c and sources.c, out of the
driver's reach.  Add RCL_GetDriverStepOffset(), which returns the offset of
a reading with offset and tai applied exactly as RCL_AddSample() applies
them, and whether the source may move the clock; keep the selection
options of the source in its instance for that.'''),
    ('0008-refclock-driver-burst-after-reset.patch', p0008, 'refclock: let a driver ask for a short burst of polls', '''\
After the PTPKVM driver stepped the clock (a paused virtual machine
resumed) it drops the samples of all sources, as after an unknown step.
chronyd selects a source only with at least three samples in its
statistics, so at one sample per polling interval the source stays
unselectable and the clock unsynchronised for three seconds, although its
readings are good at once.  Add RCL_RequestBurst(): the next N driver polls
come after a given short interval, and each completes a polling interval,
so its filter output goes to the source and selection as usual.  The
source's statistics, the selection and the reference update are chronyd's
own; only the timing of the next few polls changes.'''),
    ('0009-refclock-driver-sample-error.patch', p0009, 'refclock: let a driver give the error bound of a sample', '''\
A refclock sample gets the clock's precision as its dispersion.  The
PTPKVM driver knows the error bound of each of its samples (from the
delays of the readings it filtered, or the cross-timestamp's accuracy),
and with the precision alone two sources reading the same host clock
claim intervals that do not overlap, so that chronyd finds no majority
and keeps changing its selection.  Add RCL_SetSampleError(): the error
bound of the next sample, used as its dispersion where it is larger than
the precision.'''),
]

def main():
    for v, num in VERSIONS.items():
        src = pristine_tree(v)
        os.makedirs(WORK, exist_ok=True)
        outdir = os.path.join(TOP, 'patches', v)
        cur = {}
        def get(f):
            if f not in cur:
                cur[f] = open(os.path.join(src, f)).read()
            return cur[f]
        def put(f, t):
            cur[f] = t
        names = []
        for i, (name, fn, subject, body) in enumerate(PATCHES):
            before = dict(cur)
            touched = []
            def put2(f, t, touched=touched):
                touched.append(f)
                put(f, t)
            fn(v, get, put2)
            diff = ''
            for f in touched:
                old = before.get(f)
                if old is None:
                    old = open(os.path.join(src, f)).read()
                a = os.path.join(WORK, 'a.tmp'); b = os.path.join(WORK, 'b.tmp')
                open(a, 'w').write(old); open(b, 'w').write(cur[f])
                r = subprocess.run(['diff', '-u', '--label', 'a/' + f, '--label', 'b/' + f, a, b],
                                   capture_output=True, text=True)
                if r.returncode != 1:
                    sys.exit('diff failed for %s %s' % (v, f))
                diff += r.stdout
            hdr = 'From: chrony-ptpkvm authors\nSubject: [PATCH %d/%d] %s\n\n%s\n\n' % (
                i + 1, len(PATCHES), subject, body % {'num': num, 'ver': v})
            open(os.path.join(outdir, name), 'w').write(hdr + diff)
            names.append(name)
        for f in os.listdir(outdir):
            if f.endswith('.patch') and f not in names:
                os.remove(os.path.join(outdir, f))
        open(os.path.join(outdir, 'series'), 'w').write('\n'.join(names) + '\n')
        print('chrony %s: %d patches' % (v, len(names)))

main()
