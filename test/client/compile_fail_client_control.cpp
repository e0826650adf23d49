// SPDX-License-Identifier: MIT
// expect-success
// The control case: the same fakes with their role tags make a client, so the two failing cases
// fail for the missing tag and nothing else.
#include <knock/client.hpp>

#include "compile_fail/fakes.hpp"

static_assert(sizeof(knock::client<knock::test::fake_cipher<>, knock::test::fake_mac<>>) > 0);
