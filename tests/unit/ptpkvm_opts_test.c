/*
  chrony-ptpkvm -- unit tests of the PTPKVM driver's options

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

  cmocka tests of refclock_ptpkvm_opts.c: option parsing and validation,
  including the messages naming the valid form.  The option getter mimics
  chrony's RCL_GetDriverOption on a list of "name[=value]" strings.
  */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "refclock_ptpkvm_opts.c"

/* ================================================== */
/* Valid form of an option in the parser's table, or NULL if unknown */

static const char *
option_form(const char *name)
{
  int i;

  for (i = 0; name && i < N_OPTIONS; i++) {
    if (!strcmp(options[i].name, name))
      return options[i].form;
  }
  return NULL;
}

/* ================================================== */
/* Option getter with the semantics of chrony's RCL_GetDriverOption */

static const char *
get_option(void *arg, const char *name)
{
  const char **list = arg;
  size_t len = strlen(name);
  int i;

  for (i = 0; list && list[i]; i++) {
    if (strncmp(list[i], name, len))
      continue;
    if (list[i][len] == '=')
      return list[i] + len + 1;
    if (list[i][len] == '\0')
      return list[i] + len;
  }
  return NULL;
}

static int
parse(PKP_Options *o, const char **list, char *err, size_t len)
{
  return PKP_ParseOptions(o, get_option, (void *)list, err, len);
}

/* ================================================== */

/* No option gives the defaults, and each default is a valid value of its
   own option (written out, it parses to the same options) */
static void
test_defaults(void **state)
{
  PKP_Options o, o2;
  char err[256], buf[10][64];
  const char *none[] = { NULL }, *list[11];
  int i = 0;

  assert_int_equal(parse(&o, none, err, sizeof (err)), 1);
  assert_string_equal(err, "");

  snprintf(buf[i], sizeof (buf[i]), "samples=%d", o.samples), i++;
  snprintf(buf[i], sizeof (buf[i]), "step=%.17g", o.step), i++;
  snprintf(buf[i], sizeof (buf[i]), "jump=%.17g", o.jump), i++;
  snprintf(buf[i], sizeof (buf[i]), "confirm=%d", o.confirm), i++;
  snprintf(buf[i], sizeof (buf[i]), "maxsteps=%d", o.maxsteps), i++;
  snprintf(buf[i], sizeof (buf[i]), "sentinel=%.17g", o.sentinel), i++;
  snprintf(buf[i], sizeof (buf[i]), "reprobe=%.17g", o.reprobe), i++;
  for (list[i] = NULL; i-- > 0; )
    list[i] = buf[i];
  assert_int_equal(parse(&o2, list, err, sizeof (err)), 1);
  assert_memory_equal(&o, &o2, sizeof (o));

  /* flags are off and "auto" takes the default clock name */
  assert_false(o.nocrossts || o.noextended);
  assert_string_equal(o.clockname, "");
}

static void
test_valid_options(void **state)
{
  PKP_Options o;
  char err[256];
  const char *list[] = { "nocrossts", "noextended", "samples=25", "step=0", "jump=0.0005",
                         "confirm=3", "maxsteps=0", "sentinel=0", "reprobe=5",
                         "clockname=My_PHC_clock", NULL };

  assert_int_equal(parse(&o, list, err, sizeof (err)), 1);
  assert_int_equal(o.nocrossts, 1);
  assert_int_equal(o.noextended, 1);
  assert_int_equal(o.samples, 25);
  assert_true(o.step == 0.0);
  assert_true(o.jump == 0.0005);
  assert_int_equal(o.confirm, 3);
  assert_int_equal(o.maxsteps, 0);
  assert_true(o.sentinel == 0.0);
  assert_true(o.reprobe == 5.0);
  assert_string_equal(o.clockname, "My PHC clock");
}

static void
test_limits_accepted(void **state)
{
  PKP_Options o;
  char err[256];
  const char *a[] = { "samples=1", "confirm=10", "maxsteps=-1", "sentinel=0.01", "step=1e-6",
                      "jump=1e-5", NULL };
  const char *b[] = { "sentinel=60", "step=86400", "maxsteps=1000000", NULL };

  assert_int_equal(parse(&o, a, err, sizeof (err)), 1);
  assert_int_equal(o.samples, 1);
  assert_int_equal(o.confirm, 10);
  assert_int_equal(o.maxsteps, -1);
  assert_true(o.sentinel == 0.01);
  assert_int_equal(parse(&o, b, err, sizeof (err)), 1);
  assert_true(o.step == 86400.0);
  assert_int_equal(o.maxsteps, 1000000);
}

/* Each malformed option is rejected, and the message names the option,
   the value and its valid form */
static void
test_malformed_options(void **state)
{
  static const char *bad[] = {
    "samples=0", "samples=26", "samples=abc", "samples", "samples=10x", "samples=",
    "step=-1", "step=nan", "step=inf", "step=", "step=1e10",
    "jump=0", "jump=1e-6", "jump=x", "jump=2e9",
    "confirm=0", "confirm=11", "confirm=1.5",
    "maxsteps=-2", "maxsteps=three", "maxsteps=1000000001",
    "sentinel=0.001", "sentinel=61", "sentinel=-0.2",
    "reprobe=-1", "reprobe=2e6",
    "nocrossts=1", "noextended=yes",
    "clockname=", "clockname=0123456789012345678901234567890123456789012345678901234567890123456789",
    NULL
  };
  const char *list[2] = { NULL, NULL };
  char err[256], name[32];
  PKP_Options o;
  int i;

  for (i = 0; bad[i]; i++) {
    list[0] = bad[i];
    err[0] = '\0';
    if (parse(&o, list, err, sizeof (err)) != 0)
      fail_msg("accepted %s", bad[i]);
    snprintf(name, sizeof (name), "%.*s", (int)strcspn(bad[i], "="), bad[i]);
    if (!strstr(err, name) || !strstr(err, option_form(name)) ||
        !strstr(err, "valid form"))
      fail_msg("message for %s: '%s'", bad[i], err);
    if (strchr(bad[i], '=') && bad[i][strlen(bad[i]) - 1] != '=' && strlen(bad[i]) < 40 &&
        !strstr(err, bad[i]))
      fail_msg("message for %s does not quote it: '%s'", bad[i], err);
  }
}

/* Getter that records the names the parser asks for */
typedef struct {
  const char *asked[32];
  int n;
} Asked;

static const char *
record_option(void *arg, const char *name)
{
  Asked *a = arg;

  if (a->n < 32)
    a->asked[a->n++] = name;
  return NULL;
}

/* The names given to chrony's RCL_CheckDriverOptions are exactly the
   options the parser reads, each with a valid form starting with its name */
static void
test_option_forms(void **state)
{
  const char **names = PKP_OptionNames();
  char err[256];
  PKP_Options o;
  Asked asked;
  int i, j, n;

  memset(&asked, 0, sizeof (asked));
  assert_int_equal(PKP_ParseOptions(&o, record_option, &asked, err, sizeof (err)), 1);

  for (n = 0; names[n]; n++)
    ;
  for (i = 0; names[i]; i++) {
    assert_non_null(option_form(names[i]));
    assert_memory_equal(option_form(names[i]), names[i], strlen(names[i]));
    for (j = 0; j < asked.n && strcmp(asked.asked[j], names[i]); j++)
      ;
    if (j == asked.n)
      fail_msg("option %s is listed but never parsed", names[i]);
  }
  for (j = 0; j < asked.n; j++) {
    for (i = 0; names[i] && strcmp(asked.asked[j], names[i]); i++)
      ;
    if (!names[i])
      fail_msg("option %s is parsed but not listed for chrony", asked.asked[j]);
  }
  assert_int_equal(n, asked.n);

  assert_null(option_form("bogus"));
  assert_null(option_form(NULL));
}

/* ================================================== */

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_valid_options),
    cmocka_unit_test(test_limits_accepted),
    cmocka_unit_test(test_malformed_options),
    cmocka_unit_test(test_option_forms),
  };

  return cmocka_run_group_tests_name("ptpkvm_opts", tests, NULL, NULL);
}
