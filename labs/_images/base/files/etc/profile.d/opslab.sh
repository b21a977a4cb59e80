# opslab: shell defaults. Sourced by /etc/profile (login shells) and, through the
# line added at the end of /etc/bash.bashrc and ~/.bashrc, by interactive bash.
# The prompt is set only for interactive bash shells.
# shellcheck shell=sh

: "${LANG:=C.UTF-8}"
export LANG

case $- in
  *i*) opslab_interactive=1 ;;
  *) opslab_interactive= ;;
esac
if [ -n "$opslab_interactive" ] && [ -n "${BASH_VERSION:-}" ]; then
  if [ -z "${TERM:-}" ]; then
    TERM=xterm-256color
    export TERM
  fi
  # candidate@opslab:/workspace$   (user in green, or red for root; path in blue)
  if [ "$(id -u)" -eq 0 ]; then opslab_color='1;31'; else opslab_color='1;32'; fi
  PS1='\[\e['"$opslab_color"'m\]\u@opslab\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
  unset opslab_color
fi
unset opslab_interactive
