portKnockListener()
{
  KNOCKPORT=22
  SECUREPORT=22
  KNOCKWINDOW=3
  SEQUENCE1=1
  SEQUENCE2=2
  SEQUENCE3=3
  SEQUENCE4=4
  TAG=${1}
  SEQSUM=$[SEQUENCE1+SEQUENCE2+SEQUENCE3+SEQUENCE4]
  $IPTABLES -N CHECKKNOCKS_$TAG
  $IPTABLES -N RESETKNOCKS_$TAG
########################################################################
# Packets for the SECUREPORT: check it! 
  $IPTABLES -A ${1} -p tcp    --dport $SECUREPORT -j CHECKKNOCKS_$TAG
  
########################################################################
# Some residu clean up. If to may hits are counted, reset                          
# If more packets are received 
  $IPTABLES -A ${1} -m recent --rcheck \
                              --hitcount $[SEQSUM+1] \
                              --seconds $[KNOCKWINDOW*4]\
                              --name knocks_$TAG \
                           -j RESETKNOCKS_$TAG
  $IPTABLES -A ${1} -m recent --rcheck \
                              --hitcount $[2*SEQSUM+1] \
                              --name knocks_$TAG \
                           -j RESETKNOCKS_$TAG
########################################################################
# Packets for the KNOCKPORT: increase counter. This may be UDP or TCP                               
  $IPTABLES -A ${1} -p udp    --dport $KNOCKPORT \
                    -m recent --set \
                              --name knocks_$TAG \
                    -j DROP
  $IPTABLES -A ${1} -p tcp    --syn --dport $KNOCKPORT \
                    -m    recent --set \
                              --name knocks_$TAG \
                    -j DROP
  
  
########################################################################
# Reset chain: remove all knocks  
  $IPTABLES -A RESETKNOCKS_$TAG -m recent --remove \
                                          --name knocks_$TAG \
                           -j DROP
  
  
########################################################################
# Check sum of all sequences. If not equal, do not reset, because since SECUREPORT may be 
# equal to KNOCKPORT. Hence this chain may be traversed when knocking. It should not
# be reset in the middle of a knock sequence.  
  $IPTABLES -A CHECKKNOCKS_$TAG -m recent !  --rcheck \
                                             --seconds $[KNOCKWINDOW*4] \
                                             --hitcount  $SEQSUM \
                                             --name knocks_$TAG \
                                -j RETURN
                           
  
# Fourth knock sequence
# Check count < hits   
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent ! --rcheck \
                                            --seconds $KNOCKWINDOW \
                                            --hitcount $SEQUENCE4 \
                                            --name knocks_$TAG \
                                -j RESETKNOCKS_$TAG # Check count >= hits+1
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent   --rcheck \
                                            --seconds $KNOCKWINDOW \
                                            --hitcount $[SEQUENCE4+1] \
                                            --name knocks_$TAG \
                                -j RESETKNOCKS_$TAG
                           
                           
# Fourth+Third knock sequence
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent ! --rcheck \
                                            --seconds $[2*KNOCKWINDOW] \
                                            --hitcount $[SEQUENCE4+SEQUENCE3] \
                                            --name knocks_$TAG \
                           -j RESETKNOCKS_$TAG 
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent   --rcheck \
                                           --seconds $[2*KNOCKWINDOW] \
                                            --hitcount $[SEQUENCE4+SEQUENCE3+1] \
                                            --name knocks_$TAG \
                                -j RESETKNOCKS_$TAG
                           
                            
# Third+second knock sequences  
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent ! --rcheck \
                                           --seconds $[3*KNOCKWINDOW] \
                                            --hitcount $[SEQUENCE4+SEQUENCE3+SEQUENCE2] \
                                            --name knocks_$TAG \
                           -j RESETKNOCKS_$TAG
  $IPTABLES -A CHECKKNOCKS_$TAG -p tcp --dport $SECUREPORT \
                                -m recent   --rcheck \
                                            --seconds $[3*KNOCKWINDOW] \
                                            --hitcount $[SEQUENCE4+SEQUENCE3+SEQUENCE2+1] \
                                            --name knocks_$TAG \
                           -j RESETKNOCKS_$TAG
# OK! We've received the knocks! Clear up the mess
  $IPTABLES -A CHECKKNOCKS_$TAG -m recent   --remove \
                                            --name knocks_$TAG \
                                -j ACCEPT
                               
  echo "#############################################################"
  echo "                 OPEN SESAMY INSTALLED                       "
  echo "#############################################################"
}
