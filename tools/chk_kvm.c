/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "kvm.guest": are we running in a KVM guest?  On x86 the CPUID
  hypervisor bit (leaf 1, ECX bit 31) says "virtual machine" and the
  vendor signature in the hypervisor leaves (0x40000000, and every 0x100
  above it, where KVM appears when it also offers Hyper-V enlightenments)
  says which one.  With --root the CPUID values come from the fixture
  file /ptpkvm-doctor.cpuid ("hypervisor 0|1" and "signature LEAF TEXT"
  lines), so tests can describe any machine.
  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

#include "doctor.h"

#define MAX_SIGS 8
#define KVM_SIGNATURE "KVMKVMKVM"

typedef struct {
  int known;                    /* CPUID could be read (or the fixture exists) */
  int hypervisor;
  int n_sigs;
  unsigned int leaf[MAX_SIGS];
  char sig[MAX_SIGS][13];
} CpuidInfo;

/* ================================================== */

#ifdef HAVE_CPUID
static void
read_real_cpuid(CpuidInfo *info)
{
  unsigned int eax, ebx, ecx, edx, base;

  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
    return;
  info->known = 1;
  info->hypervisor = !!(ecx & (1U << 31));
  if (!info->hypervisor)
    return;

  for (base = 0x40000000; base < 0x40010000 && info->n_sigs < MAX_SIGS; base += 0x100) {
    __cpuid(base, eax, ebx, ecx, edx);
    if (eax < base || eax > base + 0xff)
      continue;
    memcpy(info->sig[info->n_sigs], &ebx, 4);
    memcpy(info->sig[info->n_sigs] + 4, &ecx, 4);
    memcpy(info->sig[info->n_sigs] + 8, &edx, 4);
    info->sig[info->n_sigs][12] = '\0';
    info->leaf[info->n_sigs++] = base;
  }
}
#endif

/* ================================================== */

static void
read_fixture_cpuid(DOC_Context *ctx, CpuidInfo *info)
{
  char buf[2048], *line, *save = NULL, *p;
  unsigned long leaf;

  if (DOC_ReadFile(ctx, "/ptpkvm-doctor.cpuid", buf, sizeof (buf)) < 0)
    return;
  info->known = 1;
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "hypervisor ", 11)) {
      info->hypervisor = atoi(line + 11);
    } else if (!strncmp(line, "signature ", 10) && info->n_sigs < MAX_SIGS) {
      leaf = strtoul(line + 10, &p, 0);
      while (*p == ' ')
        p++;
      snprintf(info->sig[info->n_sigs], sizeof (info->sig[0]), "%s", p);
      info->leaf[info->n_sigs++] = leaf;
    }
  }
}

/* ================================================== */

void
DOC_CheckKvm(DOC_Context *ctx)
{
  CpuidInfo info;
  char list[256] = "";
  int i, kvm = -1;
  DOC_Result *r;

  memset(&info, 0, sizeof (info));
  if (ctx->fixture)
    read_fixture_cpuid(ctx, &info);
#ifdef HAVE_CPUID
  else
    read_real_cpuid(&info);
#endif

  if (!info.known) {
    DOC_AddResult(ctx->report, "kvm.guest", DOC_SKIP, NULL,
                  ctx->fixture ? "no CPUID description in the fixture tree"
                               : "CPUID not available on this architecture");
    return;
  }

  ctx->not_kvm = 1;
  if (!info.hypervisor) {
    DOC_AddResult(ctx->report, "kvm.guest", DOC_FAIL,
                  "none: PTPKVM cannot work here (ptp_kvm exists only in KVM guests); chronyd "
                  "keeps its other sources (NTP, a NIC's PHC)",
                  "CPUID hypervisor bit is clear: not a virtual machine");
    return;
  }

  for (i = 0; i < info.n_sigs; i++) {
    snprintf(list + strlen(list), sizeof (list) - strlen(list), "%s0x%08x '%s'",
             i ? ", " : "", info.leaf[i], info.sig[i]);
    if (kvm < 0 && !strncmp(info.sig[i], KVM_SIGNATURE, strlen(KVM_SIGNATURE)))
      kvm = i;
  }

  if (kvm < 0) {
    DOC_AddResult(ctx->report, "kvm.guest", DOC_FAIL,
                  "none: PTPKVM cannot work here (not a KVM guest); chronyd keeps its other "
                  "sources; the hypervisor's own clock (ptp_hyperv, ptp_vmw) may serve",
                  "virtual machine, but no KVM signature in CPUID (%s)",
                  info.n_sigs ? list : "no hypervisor leaves");
    return;
  }

  ctx->not_kvm = 0;
  r = DOC_AddResult(ctx->report, "kvm.guest", DOC_OK, NULL,
                    "KVM guest (CPUID hypervisor bit, signature at %s)", list);
  DOC_AddMetric(r, "kvm_guest", 1.0);
}
