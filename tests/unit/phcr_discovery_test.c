/*
  chrony-ptpkvm: phc_reader tests
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  cmocka tests of phc_reader's error classes and discovery: stable names
  and messages, the errno -> class mapping per mode, and device
  discovery on fixture sysfs trees (auto by clock_name, custom
  names, /dev/ptp_kvm fallback, explicit paths, GETCAPS verification,
  error texts listing the PHCs found).
  */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "fake_phc.h"
#include "phcr_internal.h"

/* ================================================== */

static void
test_error_strings(void **state)
{
  int i, j;

  (void)state;
  for (i = 0; i < PHCR_ERR_COUNT; i++) {
    assert_non_null(PHCR_ErrorString(i));
    for (j = 0; j < i; j++) {
      assert_string_not_equal(PHCR_ErrorString(i), PHCR_ErrorString(j));
    }
  }
  assert_string_equal(PHCR_ErrorString(PHCR_ERR_COUNT), "unknown error");
  /* stable numbers */
  assert_int_equal(PHCR_ERR_HOST_NOTSUPP, 1);
  assert_int_equal(PHCR_ERR_CLOCKSOURCE, 2);
  assert_int_equal(PHCR_ERR_RETRY, 3);
  assert_int_equal(PHCR_ERR_GONE, 4);
  assert_int_equal(PHCR_ERR_INVALID, 5);
  assert_int_equal(PHCR_ERR_NODEVICE, 6);
  assert_string_equal(PHCR_ModeName(PHCR_MODE_PRECISE), "precise");
  assert_string_equal(PHCR_ModeName(PHCR_MODE_EXTENDED), "extended");
  assert_string_equal(PHCR_ModeName(PHCR_MODE_BASIC), "basic");
  assert_string_equal(PHCR_ModeName(PHCR_MODE_NONE), "none");
}

static void
test_errno_mapping(void **state)
{
  (void)state;
  assert_int_equal(PHCR_ErrorFromErrno(0, PHCR_MODE_BASIC), PHCR_OK);
  assert_int_equal(PHCR_ErrorFromErrno(EOPNOTSUPP, PHCR_MODE_BASIC), PHCR_ERR_HOST_NOTSUPP);
  assert_int_equal(PHCR_ErrorFromErrno(EOPNOTSUPP, PHCR_MODE_PRECISE), PHCR_ERR_HOST_NOTSUPP);
  assert_int_equal(PHCR_ErrorFromErrno(ENODEV, PHCR_MODE_PRECISE), PHCR_ERR_CLOCKSOURCE);
  assert_int_equal(PHCR_ErrorFromErrno(ENODEV, PHCR_MODE_BASIC), PHCR_ERR_GONE);
  assert_int_equal(PHCR_ErrorFromErrno(ENODEV, PHCR_MODE_EXTENDED), PHCR_ERR_GONE);
  assert_int_equal(PHCR_ErrorFromErrno(EINTR, PHCR_MODE_BASIC), PHCR_ERR_RETRY);
  assert_int_equal(PHCR_ErrorFromErrno(EAGAIN, PHCR_MODE_BASIC), PHCR_ERR_RETRY);
  assert_int_equal(PHCR_ErrorFromErrno(EBUSY, PHCR_MODE_PRECISE), PHCR_ERR_RETRY);
  assert_int_equal(PHCR_ErrorFromErrno(EBADF, PHCR_MODE_BASIC), PHCR_ERR_OTHER);
  assert_int_equal(PHCR_ErrorFromErrno(EINVAL, PHCR_MODE_BASIC), PHCR_ERR_OTHER);
}

/* ================================================== */
/* Discovery on fixture trees */

typedef struct {
  FAKE_Phc *f;
} Fix;

static int
setup(void **state)
{
  Fix *x = test_malloc(sizeof (*x));

  x->f = FAKE_Create(1);
  assert_non_null(x->f);
  *state = x;
  return 0;
}

static int
teardown(void **state)
{
  Fix *x = *state;

  FAKE_Destroy(x->f);
  test_free(x);
  return 0;
}

/* ptp0 = NIC, ptp1 = hyperv, ptp2 = KVM */
static void
three_phcs(Fix *x)
{
  assert_int_equal(FAKE_AddSysfsPtp(x->f, 0, "mlx5_ptp"), 0);
  assert_int_equal(FAKE_AddSysfsPtp(x->f, 1, "hyperv"), 0);
  assert_int_equal(FAKE_AddSysfsPtp(x->f, 2, "KVM virtual PTP"), 0);
  assert_true(FAKE_AddDevice(x->f, "/dev/ptp0") >= 0);
  assert_true(FAKE_AddDevice(x->f, "/dev/ptp1") >= 0);
  assert_true(FAKE_AddDevice(x->f, "/dev/ptp2") >= 0);
}

static void
test_list_devices_sorted(void **state)
{
  PHCR_DeviceInfo devs[4];
  Fix *x = *state;
  int i;

  FAKE_AddSysfsPtp(x->f, 10, "ten");
  FAKE_AddSysfsPtp(x->f, 2, "two");
  FAKE_AddSysfsPtp(x->f, 0, NULL);
  FAKE_WriteFile(x->f, "/sys/class/ptp/notaptp/clock_name", "x\n");
  FAKE_AddSysfsPtp(x->f, 7, "seven");
  FAKE_AddSysfsPtp(x->f, 5, "five");
  /* more than fit, in whatever order the directory lists them */
  for (i = 11; i < 40; i++)
    FAKE_AddSysfsPtp(x->f, i, "more");

  assert_int_equal(PHCR_ListDevices(devs, 4), 34);
  assert_int_equal(devs[0].index, 0);
  assert_string_equal(devs[0].clock_name, "");
  assert_int_equal(devs[1].index, 2);
  assert_string_equal(devs[1].clock_name, "two");
  assert_string_equal(devs[1].dev_path, "/dev/ptp2");
  assert_int_equal(devs[2].index, 5);
  assert_int_equal(devs[3].index, 7);
  assert_string_equal(devs[3].clock_name, "seven");
}

/* No sysfs: not listable */
static void
test_list_devices_no_sysfs(void **state)
{
  PHCR_DeviceInfo devs[2];

  (void)state;
  assert_int_equal(PHCR_ListDevices(devs, 2), -1);
}

static void
test_auto_by_clock_name(void **state)
{
  PHCR_Discovery d;
  Fix *x = *state;

  three_phcs(x);
  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_OK);
  assert_string_equal(d.path, "/dev/ptp2");
  assert_string_equal(d.why, "/dev/ptp2: clock_name 'KVM virtual PTP'");
  assert_int_equal(d.cross_timestamping, 1);

  /* configurable name */
  assert_int_equal(PHCR_FindDevice(NULL, "hyperv", &d), PHCR_OK);
  assert_string_equal(d.path, "/dev/ptp1");
}

static void
test_auto_none_matches(void **state)
{
  FAKE_Counters c;
  PHCR_Discovery d;
  Fix *x = *state;

  three_phcs(x);
  assert_int_equal(PHCR_FindDevice("auto", "vmclock", &d),
                   PHCR_ERR_NODEVICE);
  assert_string_equal(d.path, "");
  assert_non_null(strstr(d.error, "no usable PHC with clock_name 'vmclock'"));
  assert_non_null(strstr(d.error, "/dev/ptp0 'mlx5_ptp'"));
  assert_non_null(strstr(d.error, "/dev/ptp1 'hyperv'"));
  assert_non_null(strstr(d.error, "/dev/ptp2 'KVM virtual PTP'"));
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 0);
}

static void
test_auto_empty_sysfs(void **state)
{
  PHCR_Discovery d;
  (void)state;

  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_ERR_NODEVICE);
  assert_non_null(strstr(d.error, "PHCs found: none"));
}

/* No clock_name match, but the udev symlink exists and leads to a PHC
   without a sysfs entry: it is taken */
static void
test_auto_ptp_kvm_symlink(void **state)
{
  FAKE_Counters c;
  PHCR_Discovery d;
  Fix *x = *state;
  int dev, fd;

  FAKE_AddSysfsPtp(x->f, 0, "mlx5_ptp");
  FAKE_AddDevice(x->f, "/dev/ptp0");
  dev = FAKE_AddDevice(x->f, "/dev/ptp3");
  assert_int_equal(FAKE_AddAlias(x->f, "/dev/ptp_kvm", dev), 0);

  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_OK);
  assert_string_equal(d.path, "/dev/ptp_kvm");
  assert_string_equal(d.clock_name, "");
  assert_non_null(strstr(d.why, "/dev/ptp_kvm: udev symlink"));

  /* the symlink names the KVM clock: not a fallback for another name */
  assert_int_equal(PHCR_FindDevice("auto", "hyperv", &d), PHCR_ERR_NODEVICE);
  assert_string_equal(d.path, "");
  assert_null(strstr(d.error, "/dev/ptp_kvm"));

  /* a symlink to a PHC with another clock_name (a wrong udev rule) is
     refused, saying where it leads */
  FAKE_AddSysfsPtp(x->f, 3, "ptp_kvm_renamed");
  assert_int_equal(PHCR_FindAndOpenDevice("auto", NULL, &d, &fd),
                   PHCR_ERR_NODEVICE);
  assert_int_equal(fd, -1);
  assert_string_equal(d.path, "");
  assert_non_null(strstr(d.error, "/dev/ptp_kvm: leads to /dev/ptp3 with clock_name "
                                  "'ptp_kvm_renamed'"));
  assert_non_null(strstr(d.error, "no usable PHC with clock_name 'KVM virtual PTP'"));
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 0);
}

/* The first matching device is not a PHC: the next one is taken */
static void
test_auto_skips_non_phc(void **state)
{
  PHCR_Discovery d;
  Fix *x = *state;
  int dev;

  FAKE_AddSysfsPtp(x->f, 1, "KVM virtual PTP");
  FAKE_AddSysfsPtp(x->f, 4, "KVM virtual PTP");
  dev = FAKE_AddDevice(x->f, "/dev/ptp1");
  FAKE_SetPhc(x->f, dev, 0);
  FAKE_AddDevice(x->f, "/dev/ptp4");
  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_OK);
  assert_string_equal(d.path, "/dev/ptp4");

  /* both broken: NOTPHC with the reason */
  FAKE_SetOpenErrno(x->f, 1, EACCES);
  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_ERR_ACCESS);
  assert_non_null(strstr(d.error, "/dev/ptp1: PTP_CLOCK_GETCAPS failed"));
  assert_non_null(strstr(d.error, "/dev/ptp4: cannot open"));
}

static void
test_explicit_path(void **state)
{
  PHCR_Discovery d;
  Fix *x = *state;

  three_phcs(x);
  assert_int_equal(PHCR_FindDevice("/dev/ptp2", NULL, &d), PHCR_OK);
  assert_string_equal(d.why, "/dev/ptp2: given path, /dev/ptp2 clock_name "
                      "'KVM virtual PTP'");

  /* explicit path to another PHC: taken, with a note */
  assert_int_equal(PHCR_FindDevice("/dev/ptp0", NULL, &d), PHCR_OK);
  assert_string_equal(d.clock_name, "mlx5_ptp");
  assert_non_null(strstr(d.why, "(not the expected clock name)"));

  /* missing path: NODEVICE, PHCs listed */
  assert_int_equal(PHCR_FindDevice("/dev/ptp9", NULL, &d), PHCR_ERR_NODEVICE);
  assert_int_equal(d.sys_errno, ENOENT);
  assert_non_null(strstr(d.error, "/dev/ptp9: cannot open"));
  assert_non_null(strstr(d.error, "/dev/ptp1 'hyperv'"));

  /* not a PHC */
  FAKE_SetPhc(x->f, 1, 0);
  assert_int_equal(PHCR_FindDevice("/dev/ptp1", NULL, &d), PHCR_ERR_NOTPHC);
}

/* Specs that can never resolve are refused, naming the valid forms */
static void
test_check_spec(void **state)
{
  const char *bad[] = { "", "\"\"", "AUTO", "Auto", "ptp0", "dev/ptp0", "/", NULL };
  char err[PHCR_ERRTEXT_MAX];
  int i;

  (void)state;
  assert_true(PHCR_CheckSpec("auto", err, sizeof (err)));
  assert_true(PHCR_CheckSpec("/dev/ptp0", err, sizeof (err)));
  assert_true(PHCR_CheckSpec("/dev/ptp_kvm", err, sizeof (err)));
  for (i = 0; bad[i]; i++) {
    err[0] = '\0';
    assert_false(PHCR_CheckSpec(bad[i], err, sizeof (err)));
    assert_non_null(strstr(err, "valid forms are 'auto'"));
    assert_non_null(strstr(err, "absolute path"));
  }
  assert_false(PHCR_CheckSpec(NULL, err, sizeof (err)));
}

/* FindAndOpen keeps the fd; FindDevice closes it */
static void
test_find_and_open(void **state)
{
  PHCR_Discovery d;
  FAKE_Counters c;
  Fix *x = *state;
  int fd;

  three_phcs(x);
  assert_int_equal(PHCR_FindAndOpenDevice("auto", NULL, &d, &fd), PHCR_OK);
  assert_true(fd >= 0);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 1);
  assert_int_equal(c.getcaps, 1);
  close(fd);
  assert_int_equal(PHCR_FindDevice("auto", NULL, &d), PHCR_OK);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 0);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_error_strings),
    cmocka_unit_test(test_errno_mapping),
    cmocka_unit_test_setup_teardown(test_list_devices_sorted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_list_devices_no_sysfs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auto_by_clock_name, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auto_none_matches, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auto_empty_sysfs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auto_ptp_kvm_symlink, setup, teardown),
    cmocka_unit_test_setup_teardown(test_auto_skips_non_phc, setup, teardown),
    cmocka_unit_test_setup_teardown(test_explicit_path, setup, teardown),
    cmocka_unit_test(test_check_spec),
    cmocka_unit_test_setup_teardown(test_find_and_open, setup, teardown),
  };

  return cmocka_run_group_tests_name("phcr_discovery", tests, NULL, NULL);
}
