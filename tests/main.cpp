// tests/main.cpp - the Boost.Test entry point shared by every suite in the test executable.
// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE ipcxx
#if defined(IPC_TEST_BOOST_HEADER_ONLY)
// Cross builds have Boost's headers but no Boost libraries for the host: compile the framework in.
#include <boost/test/included/unit_test.hpp>
#else
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>
#endif
