/*
  chrony-ptpkvm -- the PTPKVM reference clock driver for chronyd

  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  You should have received a copy of the GNU General Public License along
  with this program; if not, write to the Free Software Foundation, Inc.,
  51 Franklin Street, Fifth Floor, Boston, MA  02110-1301, USA.

  =======================================================================

  PTPKVM refclock driver: reads the host's clock through the ptp_kvm PHC
  with phc_reader and steps the system clock as soon as a VM pause is
  detected.  This file is linked into chrony's source tree by the
  chrony-ptpkvm build; it is not part of chrony itself.

  Placeholder until the driver lands: it registers the driver name so the
  build machinery and the configuration parser can be exercised, and
  refuses to start with a clear message.
  */

#include "config.h"

#include "sysincl.h"

#include "refclock.h"
#include "logging.h"

#ifdef FEAT_PTPKVM

static int
ptpkvm_initialise(RCL_Instance instance)
{
  LOG(LOGS_ERR, "refclock PTPKVM: driver not implemented yet in this build");
  return 0;
}

static void
ptpkvm_finalise(RCL_Instance instance)
{
}

static int
ptpkvm_poll(RCL_Instance instance)
{
  return 0;
}

RefclockDriver RCL_PTPKVM_driver = {
  ptpkvm_initialise,
  ptpkvm_finalise,
  ptpkvm_poll
};

#else

RefclockDriver RCL_PTPKVM_driver = { NULL, NULL, NULL };

#endif
