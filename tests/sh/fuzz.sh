# fuzz.sh - every libFuzzer target runs for a bounded time (FUZZ_SECONDS,
# default 5) from its checked-in seed corpus, under ASan and UBSan, and must
# end without a crash, leak or sanitizer report. `make fuzz` runs longer.
. tests/lib.sh

secs=${FUZZ_SECONDS:-5}
found=0
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    found=1
    name=${f#build/fuzz/fuzz_}
    work="$TEST_TMP/$name"
    mkdir -p "$work/corpus"
    cp fuzz/corpus/"$name"/* "$work/corpus/" 2>/dev/null
    seeds=$(ls "$work/corpus" | wc -l)
    expect_match "fuzz_$name has a seed corpus" '^[1-9][0-9]*$' "$seeds"
    if (cd "$work" && "$OLDPWD/$f" -max_total_time="$secs" -print_final_stats=1 corpus) >"$work/log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
        ok "fuzz_$name: $runs runs in $secs s, no crash"
    else
        not_ok "fuzz_$name: no crash"; diag "$(tail -n 30 "$work/log")"
    fi
done
[ $found -eq 1 ] || not_ok "fuzzers were built (build/fuzz/fuzz_*)"
finish
