"""Passwords that guessing tools try first: keyboard and digit runs, and the classics of Chinese users.

Only entries of at least 8 characters are listed (shorter ones fail the length rule anyway). Compared
case-insensitively.
"""

_LIST = """
    12345678 123456789 1234567890 0123456789 87654321 987654321 9876543210 12341234 11223344
    00000000 11111111 22222222 33333333 44444444 55555555 66666666 77777777 88888888 99999999
    123123123 12121212 147258369 123456abc 1234567a 12345678a 123456789a a12345678 a123456789
    abc12345 abcd1234 abcdefgh 1qaz2wsx 1q2w3e4r 1q2w3e4r5t qwertyui qwertyuiop asdfghjk
    asdfghjkl zxcvbnm1 zxcvbnm123 qazwsxedc password password1 password123 passw0rd p@ssw0rd
    iloveyou iloveyou1 admin123 admin1234 administrator welcome1 welcome123 letmein1 sunshine
    princess football baseball superman monkey123 dragon123 trustno1 changeme
    woaini1314 woaini520 5201314520 52013141 1314520520 woaiwojia aa123456 qq123456 qq5201314
    a1b2c3d4 abc123456 123qweasd qweasdzxc 1234qwer qwer1234 zhang123 wang1234 li123456
    taobao123 jieduan123 jieduan2026
"""

COMMON_PASSWORDS: frozenset[str] = frozenset(_LIST.split())
